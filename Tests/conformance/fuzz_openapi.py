"""Fuzzes a running Sluice gateway from its own /openapi.json with Schemathesis, and fails on:

- any 5xx (`not_a_server_error`);
- a status, content type or body the document does not describe for that operation
  (`status_code_conformance`, `content_type_conformance`, `response_schema_conformance`);
- a request the document allows being refused as invalid, with 400 or 422
  (`positive_data_acceptance`).

Usage: fuzz_openapi.py, with the environment naming the gateway and its credentials:
SLUICE_FUZZ_BASE_URL, SLUICE_FUZZ_API_KEY (for /v1), SLUICE_FUZZ_USER_TOKEN and
SLUICE_FUZZ_ADMIN_TOKEN (access tokens for /api), SLUICE_FUZZ_MODELS (see fuzz_openapi_hooks.py).
SLUICE_FUZZ_EXAMPLES and SLUICE_FUZZ_SEED make a longer or different run than the suite's.
Prints each pass's report and exits 0 when every pass sent requests and none found a failure, else 1.

Three passes, one per credential, in this order, so no pass can break the credentials of one still
to come: /v1 with the API key (before /api can add accounts or change the key's user), then the
user's /api, then the admin's. Sign-out is left out: it revokes the very token its pass uses
(OpenAPIAccessTests calls it, last). So is Stripe's webhook: its credential is an HMAC of the body,
which no generated request carries (PaymentTests sends it signed and forged). The admin pass cannot lock itself out: the gateway refuses an
admin's demoting or disabling itself.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,positive_data_acceptance"

base_url = os.environ["SLUICE_FUZZ_BASE_URL"]
passes = [
    ("v1", os.environ["SLUICE_FUZZ_API_KEY"], ["--include-path-regex", "^/(v1|v1beta|health)(/|$)"]),
    (
        "user",
        os.environ["SLUICE_FUZZ_USER_TOKEN"],
        [
            "--include-path-regex", "^/api/", "--exclude-path-regex", "^/api/admin/", "--exclude-path", "/api/auth/logout",
            "--exclude-path", "/api/auth/browser/logout",
            "--exclude-path", "/api/webhooks/stripe",
        ],
    ),
    ("admin", os.environ["SLUICE_FUZZ_ADMIN_TOKEN"], ["--include-path-regex", "^/api/admin/"]),
]

environment = dict(os.environ, SCHEMATHESIS_HOOKS="fuzz_openapi_hooks", PYTHONPATH=HERE)
failed = []
# Schemathesis and Hypothesis may leave files where they run; not in the repository.
scratch = tempfile.TemporaryDirectory()
for name, token, selection in passes:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/openapi.json",
        "--checks", CHECKS,
        "--header", f"Authorization: Bearer {token}",
        # The suite's bound: a few cases per operation, one worker (the gateway shares the machine).
        "--max-examples", os.environ.get("SLUICE_FUZZ_EXAMPLES", "8"),
        "--seed", os.environ.get("SLUICE_FUZZ_SEED", "1"),
        "--workers", "1",
        "--phases", "examples,coverage,fuzzing",
        "--generation-database", "none",
        # The bearer header above is the credential; generated ones would only be refused.
        "--generation-with-security-parameters", "false",
        "--request-timeout", "20",
        "--no-color",
    ] + selection
    result = subprocess.run(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=scratch.name)
    print(f"=== pass {name}: exit {result.returncode}")
    print(result.stdout)
    # A pass that selected nothing, or generated nothing, would pass without testing anything.
    generated = re.search(r"(\d+) generated", result.stdout)
    if result.returncode != 0 or not generated or int(generated.group(1)) == 0:
        failed.append(name)

if failed:
    print(f"fuzzing failed in: {', '.join(failed)}")
    sys.exit(1)
