"""A tool-using conversation through Sluice with the official `openai` SDK, as a client would
hold it: the first turn streams a tool call, the second sends the call and its result back.

Usage: openai_sdk_tools.py BASE_URL API_KEY MODEL
Prints one JSON line with what the client saw; exits non-zero, saying why, when the SDK
failed or the conversation was not what an OpenAI client expects.
"""
import json

import openai
from sdk_client import arguments, fail

base_url, api_key, model = arguments()
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
tools = [{
    "type": "function",
    "function": {"name": "get_weather", "description": "Current weather",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}]
messages = [{"role": "user", "content": "What is the weather in Paris?"}]

calls, finish, usage, ids = {}, None, None, set()
stream = client.chat.completions.create(model=model, messages=messages, tools=tools, stream=True,
                                        stream_options={"include_usage": True})
for chunk in stream:  # the SDK parses every chunk into its typed model
    ids.add(chunk.id)
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        for delta in choice.delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = delta.id or call["id"]
            if delta.function:
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
        finish = choice.finish_reason or finish



if len(ids) != 1:
    fail(f"chunks carried {len(ids)} ids")
if finish != "tool_calls" or list(calls) != [0]:
    fail(f"expected one tool call and finish_reason tool_calls, got {calls} and {finish}")
call = calls[0]
if call["name"] != "get_weather" or json.loads(call["arguments"]) != {"city": "Paris"}:
    fail(f"unexpected call {call}")
if usage is None or usage.prompt_tokens <= 0:
    fail("no usage chunk though the client asked for one")

messages.append({"role": "assistant", "content": None, "tool_calls": [
    {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}]})
messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps({"celsius": 18})})
answer = client.chat.completions.create(model=model, messages=messages, tools=tools)
if not answer.choices[0].message.content or answer.choices[0].finish_reason != "stop":
    fail(f"the second turn was not an answer: {answer}")
print(json.dumps({"call": call, "cached_tokens": usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else None,
                  "answer": answer.choices[0].message.content}))
