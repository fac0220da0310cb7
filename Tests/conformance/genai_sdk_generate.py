"""Sluice's Gemini routes through the official `google-genai` SDK, unchanged, as Gemini CLI and
other Gemini clients call them: generate_content, a stream, and a function call whose result
is sent back, then the errors the SDK raises for Sluice's refusals.

Usage: genai_sdk_generate.py BASE_URL API_KEY MODEL
Prints one JSON line with what the client saw; exits non-zero, saying why, when the SDK failed
or an answer was not what a Gemini client expects.
"""
import json

from google import genai
from google.genai import errors, types
from sdk_client import arguments, fail

base_url, api_key, model = arguments()
client = genai.Client(api_key=api_key, http_options=types.HttpOptions(base_url=base_url, api_version="v1beta", timeout=30_000))

answer = client.models.generate_content(model=model, contents="Hello")
if not answer.usage_metadata or not answer.usage_metadata.candidates_token_count:
    fail(f"no usage in {answer.usage_metadata}")

streamed = "".join(chunk.text or "" for chunk in client.models.generate_content_stream(model=model, contents="Hello"))

weather = types.FunctionDeclaration(
    name="get_weather", description="Current weather",
    parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]))
config = types.GenerateContentConfig(
    tools=[types.Tool(function_declarations=[weather])],
    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
question = types.Content(role="user", parts=[types.Part(text="What is the weather in Paris?")])
# The call streams, as Gemini CLI asks for it: it arrives whole, in one part.
calls, call_content = [], None
for chunk in client.models.generate_content_stream(model=model, contents=[question], config=config):
    if chunk.function_calls:
        calls += chunk.function_calls
        call_content = chunk.candidates[0].content
if len(calls) != 1 or calls[0].name != "get_weather" or dict(calls[0].args) != {"city": "Paris"}:
    fail(f"expected one get_weather call, got {calls}")
result = types.Content(role="user", parts=[types.Part.from_function_response(name="get_weather", response={"weather": "Sunny"})])
final = client.models.generate_content(model=model, contents=[question, call_content, result], config=config)

codes = {}
stranger = genai.Client(api_key="sk-wrong", http_options=types.HttpOptions(base_url=base_url, api_version="v1beta"))
for name, call in {
    "unauthenticated": lambda: stranger.models.generate_content(model=model, contents="x"),
    "not_found": lambda: client.models.generate_content(model="no-such-model", contents="x"),
}.items():
    try:
        call()
        fail(f"{name}: the call succeeded")
    except errors.APIError as error:
        codes[name] = [error.code, error.status]

print(json.dumps({"answer": answer.text, "streamed": streamed, "final": final.text, "errors": codes}))
