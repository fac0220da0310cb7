"""Validates Anthropic Messages API bodies with the typed models of the official `anthropic` SDK.

Reads JSON lines {"type": kind, "body": object} on stdin, where kind is
  request  - a POST /v1/messages body (MessageCreateParams), extra keys refused;
  message  - a whole answer (Message);
  event    - one stream event (RawMessageStreamEvent, ping, or an error);
  error    - an error body (ErrorResponse);
and prints one line per problem. Exit status 0 means it ran; anything else means it could not.
"""
import json
import sys

import pydantic
from anthropic import types
from anthropic.types import message_create_params

strict = pydantic.ConfigDict(extra="forbid")


def forbid_extra(typed_dict):
    """The SDK's TypedDicts allow any key; a request to the real API must not carry unknown ones."""
    return pydantic.TypeAdapter(pydantic.with_config(strict)(typed_dict))


ADAPTERS = {
    "request": forbid_extra(message_create_params.MessageCreateParamsStreaming),
    "request_whole": forbid_extra(message_create_params.MessageCreateParamsNonStreaming),
    "message": pydantic.TypeAdapter(types.Message),
    "event": pydantic.TypeAdapter(types.RawMessageStreamEvent),
    "error": pydantic.TypeAdapter(types.ErrorResponse),
}

for number, line in enumerate(sys.stdin, 1):
    if not line.strip():
        continue
    item = json.loads(line)
    kind = item["type"]
    if kind == "request" and not item["body"].get("stream"):
        kind = "request_whole"
    # ping and error events are outside RawMessageStreamEvent in the SDK's types.
    if kind == "event" and item["body"].get("type") == "ping" and set(item["body"]) == {"type"}:
        continue
    if kind == "event" and item["body"].get("type") == "error":
        kind = "error"
    try:
        ADAPTERS[kind].validate_python(item["body"], strict=False)
    except pydantic.ValidationError as error:
        for problem in error.errors():
            location = ".".join(str(part) for part in problem["loc"])
            print(f"item {number} ({kind}): {location}: {problem['msg']}")
