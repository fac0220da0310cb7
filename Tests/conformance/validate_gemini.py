"""Validates Gemini API bodies with the typed models of the official `google-genai` SDK.

Reads JSON lines {"type": kind, "body": object} on stdin, where kind is
  request  - a models/{model}:generateContent body, its members checked as the SDK's Content,
             Tool, ToolConfig and GenerationConfig (which refuse unknown fields), unknown
             members refused;
  response - a whole answer or one stream event (GenerateContentResponse);
  error    - an error body ({"error": {"code", "message", "status"}});
and prints one line per problem. Exit status 0 means it ran; anything else means it could not.
"""
import json
import sys

import pydantic
from google.genai import types

REQUEST_MEMBERS = {
    "contents": pydantic.TypeAdapter(list[types.Content]),
    "systemInstruction": pydantic.TypeAdapter(types.Content),
    "tools": pydantic.TypeAdapter(list[types.Tool]),
    "toolConfig": pydantic.TypeAdapter(types.ToolConfig),
    "generationConfig": pydantic.TypeAdapter(types.GenerationConfig),
}
RESPONSE = pydantic.TypeAdapter(types.GenerateContentResponse)


def problems(kind, body):
    if kind == "request":
        if "contents" not in body:
            yield "contents: Field required"
        for key, value in body.items():
            adapter = REQUEST_MEMBERS.get(key)
            if adapter is None:
                yield f"{key}: unknown member of a generateContent request"
                continue
            try:
                adapter.validate_python(value)
            except pydantic.ValidationError as error:
                for problem in error.errors():
                    yield f"{key}." + ".".join(str(part) for part in problem["loc"]) + f": {problem['msg']}"
    elif kind == "response":
        try:
            RESPONSE.validate_python(body)
        except pydantic.ValidationError as error:
            for problem in error.errors():
                yield ".".join(str(part) for part in problem["loc"]) + f": {problem['msg']}"
    elif kind == "error":
        error = body.get("error")
        if not isinstance(error, dict) or not isinstance(error.get("code"), int) or not isinstance(error.get("message"), str):
            yield "error: needs an integer code and a message"
    else:
        yield f"unknown kind {kind}"


for number, line in enumerate(sys.stdin, 1):
    if not line.strip():
        continue
    item = json.loads(line)
    for problem in problems(item["type"], item["body"]):
        print(f"item {number} ({item['type']}): {problem}")
