"""Sluice's /v1/embeddings through the official `openai` SDK, unchanged: as floats, and in the
SDK's default base64 (which it decodes itself), for one input and for a list.

Usage: openai_sdk_embeddings.py BASE_URL API_KEY MODEL
Prints one JSON line with what the client saw; exits non-zero, saying why, when the SDK failed.
"""
import json

import openai
from sdk_client import arguments

base_url, api_key, model = arguments()
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
floats = client.embeddings.create(model=model, input="Hello there", encoding_format="float")
default = client.embeddings.create(model=model, input=["first", "second"])  # base64 on the wire
try:
    client.embeddings.create(model="no-such-model", input="x")
    not_found = None
except openai.NotFoundError as error:
    not_found = error.status_code
print(json.dumps({
    "float": floats.data[0].embedding, "base64": [item.embedding for item in default.data],
    "indexes": [item.index for item in default.data], "prompt_tokens": default.usage.prompt_tokens, "not_found": not_found,
}))
