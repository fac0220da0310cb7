"""Sluice's MCP server driven by the official Python `mcp` client.

Usage: mcp_client.py http URL      (Streamable HTTP, URL being the gateway's /mcp)
       mcp_client.py stdio SLUICE GATEWAY_URL   (`SLUICE mcp --url GATEWAY_URL` as a child process)
The credential is SLUICE_MCP_TOKEN. Standard input is a JSON list of calls,
[{"tool": name, "arguments": {...}}, ...]; standard output is one JSON object:
{"tools": [{"name", "input_schema"}], "calls": [{"is_error", "text"}]}.
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


async def drive(session, calls):
    await session.initialize()
    listed = await session.list_tools()
    tools = [{"name": tool.name, "input_schema": tool.input_schema if hasattr(tool, "input_schema") else tool.inputSchema} for tool in listed.tools]
    results = []
    for call in calls:
        result = await session.call_tool(call["tool"], call.get("arguments") or {})
        is_error = getattr(result, "is_error", None)
        if is_error is None:
            is_error = getattr(result, "isError", False)
        text = "".join(part.text for part in result.content if getattr(part, "type", "") == "text")
        results.append({"is_error": bool(is_error), "text": text})
    return {"tools": tools, "calls": results}


async def main():
    mode = sys.argv[1]
    token = os.environ["SLUICE_MCP_TOKEN"]
    calls = json.load(sys.stdin)
    if mode == "http":
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            async with streamable_http_client(sys.argv[2], http_client=http) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    out = await drive(session, calls)
    else:
        parameters = StdioServerParameters(
            command=sys.argv[2], args=["mcp", "--url", sys.argv[3]], env={"SLUICE_MCP_TOKEN": token, "PATH": os.environ.get("PATH", "")}
        )
        async with stdio_client(parameters) as (read, write):
            async with ClientSession(read, write) as session:
                out = await drive(session, calls)
    print(json.dumps(out))


asyncio.run(main())
