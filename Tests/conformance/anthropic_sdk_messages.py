"""Sluice's /v1/messages through the official `anthropic` SDK, unchanged, as Claude Code and
other Anthropic clients call it: a plain create, a streamed tool use and its result sent back,
count_tokens, and the error classes the SDK raises for Sluice's refusals.

Usage: anthropic_sdk_messages.py BASE_URL API_KEY MODEL
Prints one JSON line with what the client saw; exits non-zero, saying why, when the SDK failed
or an answer was not what an Anthropic client expects.
"""
import json

import anthropic
from sdk_client import arguments, fail

base_url, api_key, model = arguments()
client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
tools = [{"name": "get_weather", "description": "Current weather",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
question = {"role": "user", "content": "What is the weather in Paris?"}

# A plain answer, parsed into the SDK's Message.
message = client.messages.create(model=model, max_tokens=256, messages=[{"role": "user", "content": "Hello"}])
answer = "".join(block.text for block in message.content if block.type == "text")
if message.usage.output_tokens <= 0:
    fail(f"no output tokens in {message.usage}")

# A streamed tool use: the SDK assembles the tool_use block from its input_json_delta events.
with client.messages.stream(model=model, max_tokens=256, messages=[question], tools=tools) as stream:
    for _ in stream:
        pass
    first = stream.get_final_message()
uses = [block for block in first.content if block.type == "tool_use"]
if first.stop_reason != "tool_use" or len(uses) != 1 or uses[0].name != "get_weather" or uses[0].input != {"city": "Paris"}:
    fail(f"expected one get_weather tool use, got {first.content} ({first.stop_reason})")

# The result goes back; the answer streams as text.
turns = [question, {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "Sunny, 21 C"}]}]
with client.messages.stream(model=model, max_tokens=256, messages=turns, tools=tools) as stream:
    final_text = "".join(stream.text_stream)
    final = stream.get_final_message()
if final.stop_reason != "end_turn" or final.usage.output_tokens <= 0:
    fail(f"unexpected end of the second turn: {final.stop_reason}, {final.usage}")

count = client.messages.count_tokens(model=model, messages=[question], tools=tools)

errors = {}
for name, call in {
    "authentication": lambda: anthropic.Anthropic(base_url=base_url, api_key="sk-wrong", max_retries=0).messages.create(
        model=model, max_tokens=10, messages=[question]),
    "not_found": lambda: client.messages.create(model="no-such-model", max_tokens=10, messages=[question]),
    "bad_request": lambda: client.messages.create(model=model, max_tokens=10, messages=[]),
}.items():
    try:
        call()
        fail(f"{name}: the call succeeded")
    except anthropic.APIStatusError as error:
        errors[name] = type(error).__name__

print(json.dumps({"answer": answer, "final": final_text, "input_tokens": count.input_tokens, "errors": errors,
                  "cache_read": message.usage.cache_read_input_tokens}))
