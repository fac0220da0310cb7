"""Validates an OpenAPI document, read from standard input, with openapi-spec-validator.

Usage: validate_openapi.py < openapi.json. Prints nothing and exits 0 when the document is valid; otherwise
prints the problem and exits 1.
"""
import json
import sys

from openapi_spec_validator import validate

document = json.load(sys.stdin)
try:
    validate(document)
except Exception as error:  # the validator raises several error types; all mean "invalid"
    print(f"{type(error).__name__}: {error}")
    sys.exit(1)
