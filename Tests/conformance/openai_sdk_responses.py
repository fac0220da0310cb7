"""Sluice's /v1/responses through the official `openai` SDK, unchanged, as Codex and the Agents
SDK call it: a plain create (validated against the SDK's typed Response), a stream whose final
response carries usage, a function call streamed and its output sent back as input items, a
continuation by previous_response_id, and one of a `store=False` response refused, naming it.

Usage: openai_sdk_responses.py BASE_URL API_KEY MODEL
Prints one JSON line with what the client saw; exits non-zero, saying why, when the SDK failed
or an answer was not what a Responses client expects.
"""
import json

import openai
from openai.types.responses import Response
from sdk_client import arguments, fail

base_url, api_key, model = arguments()
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

raw = client.responses.with_raw_response.create(model=model, input="Hello", instructions="Be brief.")
whole = Response.model_validate_json(raw.text)  # strict: every field the SDK's type requires
if whole.status != "completed" or not whole.usage or whole.usage.output_tokens <= 0:
    fail(f"unexpected response {whole}")

events = []
with client.responses.stream(model=model, input=[{"role": "user", "content": "Hello"}]) as stream:
    for event in stream:
        events.append(event.type)
    streamed = stream.get_final_response()
Response.model_validate(streamed.model_dump())
if events[0] != "response.created" or events[-1] != "response.completed" or "response.output_text.delta" not in events:
    fail(f"unexpected events {events}")

tools = [{"type": "function", "name": "get_weather", "description": "Current weather",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
question = {"role": "user", "content": "What is the weather in Paris?"}
with client.responses.stream(model=model, input=[question], tools=tools) as stream:
    for _ in stream:
        pass
    first = stream.get_final_response()
calls = [item for item in first.output if item.type == "function_call"]
if len(calls) != 1 or calls[0].name != "get_weather" or json.loads(calls[0].arguments) != {"city": "Paris"}:
    fail(f"expected one get_weather call, got {first.output}")
call = calls[0]
final = client.responses.create(model=model, tools=tools, input=[
    question, {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
    {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21 C"}])

continued = client.responses.create(model=model, input="And again?", previous_response_id=whole.id)
unkept = client.responses.create(model=model, input="Forget this.", store=False)
try:
    client.responses.create(model=model, input="again", previous_response_id=unkept.id)
    fail("a response stored with store=False was continued")
except openai.BadRequestError as error:
    refused = error.body.get("param") if isinstance(error.body, dict) else None

print(json.dumps({"answer": whole.output_text, "streamed": streamed.output_text, "final": final.output_text,
                  "continued": continued.output_text,
                  "cached": whole.usage.input_tokens_details.cached_tokens, "refused_param": refused}))
