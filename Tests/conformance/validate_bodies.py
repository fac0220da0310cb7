"""Reads JSON lines {"schema": name, "body": object} on stdin and prints one line per schema error.

Exit status 0 means it ran (errors, if any, are on stdout); anything else means it could not run.
Usage: validate_bodies.py <path to shared/openai-spec>
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
from validate import errors  # noqa: E402  (the official validator, beside the spec)

for number, line in enumerate(sys.stdin, 1):
    if not line.strip():
        continue
    item = json.loads(line)
    for problem in errors(item["schema"], item["body"]):
        print(f"item {number} ({item['schema']}): {problem}")
