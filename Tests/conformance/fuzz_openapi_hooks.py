"""Schemathesis hooks for fuzz_openapi.py: the few facts a request must respect that JSON Schema
cannot state, applied to every generated request just before it is sent.

Each fix below is a rule the gateway enforces and `/openapi.json` describes in words only, because
it depends on something outside the request (the clock, the pool's live accounts, the account an
id names) or on a string's content that a schema cannot parse (an OAuth secret is JSON). Without
them the fuzzer would report the gateway's correct refusals as "valid data rejected". Everything
else comes from the document as it is.

The fuzz run names, in SLUICE_FUZZ_MODELS, the model each `/v1` route should ask for (one the test
gateway's mock upstream serves), so the fuzzed bodies reach an upstream instead of stopping at
"unknown model".
"""
import json
import os
from datetime import datetime, timezone
from urllib.parse import quote, unquote

import schemathesis

MODELS = json.loads(os.environ.get("SLUICE_FUZZ_MODELS", "{}"))
# Served models, for `allowed_models`: a key may only be limited to models that exist.
SERVED_MODELS = set(MODELS.values())
# A time surely in the future, for `expires_at`, which must be.
FUTURE = "2999-01-01T00:00:00Z"
# Any kind of account takes a secret that is OAuth tokens' JSON; an `oauth` one takes only that.
OAUTH_SECRET = json.dumps({"access_token": "fuzz-access", "refresh_token": "fuzz-refresh"})
# bcrypt's limit is 72 bytes of UTF-8; the document's maxLength counts characters.
PASSWORD_BYTES = 72


def _in_the_past(value):
    try:
        return datetime.fromisoformat(value.replace("z", "Z")) <= datetime.now(timezone.utc)
    except (AttributeError, TypeError, ValueError):
        return False  # not a time: the negative case it was meant to be


def _fix_body(method, path, body):
    if not isinstance(body, dict):
        return
    if path in MODELS and isinstance(body.get("model"), str):
        body["model"] = MODELS[path]
    if _in_the_past(body.get("expires_at")):
        body["expires_at"] = FUTURE
    if path == "/api/api-keys" and isinstance(body.get("allowed_models"), list):
        body["allowed_models"] = [
            model for model in body["allowed_models"] if not isinstance(model, str) or model in SERVED_MODELS
        ]
    if path == "/api/auth/register" and isinstance(body.get("password"), str):
        password = body["password"]
        while len(password.encode()) > PASSWORD_BYTES:
            password = password[:-1]
        body["password"] = password
    if path == "/api/accounts" and method == "POST" and body.get("kind") == "oauth" and isinstance(body.get("secret"), str):
        body["secret"] = OAUTH_SECRET
    if method == "PATCH" and path in ("/api/accounts/{id}", "/api/admin/accounts/{id}"):
        # Which models and which secret an account takes depend on the account the id names.
        body.pop("models", None)
        if isinstance(body.get("secret"), str):
            body["secret"] = OAUTH_SECRET


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    _fix_body(case.operation.method.upper(), path, case.body)
    if path == "/v1beta/models/{action}" and isinstance(case.path_parameters, dict):
        # Path parameters arrive percent-encoded: `model%3AgenerateContent`.
        action = unquote(str(case.path_parameters.get("action", "")))
        if ":" in action and path in MODELS:
            case.path_parameters["action"] = quote(MODELS[path] + action[action.rindex(":"):], safe="")

