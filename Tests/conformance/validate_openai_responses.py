"""Validates OpenAI Responses API bodies with the typed models of the official `openai` SDK.

Reads JSON lines {"type": kind, "body": object} on stdin, where kind is
  request  - a POST /v1/responses body (ResponseCreateParams), unknown members refused;
  response - a whole answer (Response);
  event    - one stream event (ResponseStreamEvent, by its `type`);
and prints one line per problem. Exit status 0 means it ran; anything else means it could not.
"""
import json
import sys
import typing

import pydantic
from openai.types.responses import Response, ResponseStreamEvent, ToolParam, response_create_params

REQUEST_TYPE = response_create_params.ResponseCreateParamsNonStreaming
REQUEST_MEMBERS = set(typing.get_type_hints(response_create_params.ResponseCreateParamsBase)) | {"stream"}
REQUEST = pydantic.TypeAdapter(REQUEST_TYPE)
# The params type declares `tools` an Iterable, which pydantic checks only lazily: a list checks now.
TOOLS = pydantic.TypeAdapter(list[ToolParam])
RESPONSE = pydantic.TypeAdapter(Response)
# Each stream event's model, by the literal `type` it declares, so a problem names one model.
EVENTS = {typing.get_args(model.model_fields["type"].annotation)[0]: model
          for model in typing.get_args(typing.get_args(ResponseStreamEvent)[0])}


def located(error):
    for problem in error.errors():
        yield ".".join(str(part) for part in problem["loc"]) + f": {problem['msg']}"


def problems(kind, body):
    if kind == "event":
        model = EVENTS.get(body.get("type"))
        if model is None:
            yield f"type: no stream event is of type {body.get('type')!r}"
            return
        adapter = pydantic.TypeAdapter(model)
    else:
        adapter = {"request": REQUEST, "response": RESPONSE}.get(kind)
    if adapter is None:
        yield f"unknown kind {kind}"
        return
    if kind == "request":
        for key in body:
            if key not in REQUEST_MEMBERS:
                yield f"{key}: unknown member of a Responses request"
        body = {key: value for key, value in body.items() if key != "stream"}
        try:
            TOOLS.validate_python(body.get("tools", []))
        except pydantic.ValidationError as error:
            yield from ("tools." + problem for problem in located(error))
    try:
        adapter.validate_python(body)
    except pydantic.ValidationError as error:
        yield from located(error)


for line in sys.stdin:
    if line.strip():
        item = json.loads(line)
        # A union's problems are one per member: the first few say enough.
        for problem in list(problems(item["type"], item["body"]))[:6]:
            print(f"{item['type']}: {problem}")
