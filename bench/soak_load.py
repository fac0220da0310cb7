#!/usr/bin/env python3
"""Soak load for bench/soak: mixed plain and streaming chat requests, with clients that hang up
mid-stream at random, for a bounded time; every interval it prints the gateway's resident memory,
open file descriptors, settlement backlog and running requests, and the request tallies.

    soak_load.py --url http://127.0.0.1:18090 --key KEY --pid PID [--minutes 30] [--workers 64] [--interval 60]

Models: `soak-fast` answers at once (plain or a whole stream); `soak-endless` streams until the
client leaves, which every such request does after a random number of chunks. Plain HTTP/1.1 over
asyncio streams, so a hang-up is a real close of the socket mid-response.
"""
import argparse
import asyncio
import json
import os
import random
import re
import sys
import time
from collections import Counter
from urllib.parse import urlparse

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--pid", type=int, required=True)
parser.add_argument("--minutes", type=float, default=30)
parser.add_argument("--workers", type=int, default=64)
parser.add_argument("--interval", type=float, default=60)
args = parser.parse_args()
target = urlparse(args.url)
tally = Counter()


def request_bytes(model, stream):
    body = json.dumps({"model": model, "stream": stream, "max_tokens": 64,
                       "messages": [{"role": "user", "content": "soak " + "x" * random.randint(1, 400)}]})
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {target.hostname}\r\nAuthorization: Bearer {args.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}").encode()


async def one_request():
    roll = random.random()
    model, stream = ("soak-fast", False) if roll < 0.4 else ("soak-fast", True) if roll < 0.7 else ("soak-endless", True)
    reader, writer = await asyncio.open_connection(target.hostname, target.port)
    try:
        writer.write(request_bytes(model, stream))
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 30)
        status = status_line.split(b" ")[1].decode() if status_line else "none"
        if model == "soak-endless" and status == "200":
            # Hang up after a random number of reads: the client that leaves mid-answer.
            for _ in range(random.randint(1, 40)):
                if not await asyncio.wait_for(reader.read(4096), 30):
                    break
            tally["hung_up"] += 1
        else:
            # A fast stream is sometimes abandoned after its first read, too.
            if stream and random.random() < 0.2:
                await reader.read(512)
                tally["hung_up"] += 1
            else:
                await asyncio.wait_for(reader.read(), 30)
        tally[status] += 1
    except (asyncio.TimeoutError, ConnectionError, OSError) as error:
        tally[type(error).__name__] += 1
    finally:
        writer.close()


async def worker(deadline):
    while time.monotonic() < deadline:
        await one_request()


def process_figures():
    with open(f"/proc/{args.pid}/status") as status:
        rss = int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))
    return rss, len(os.listdir(f"/proc/{args.pid}/fd"))


async def gateway_figures():
    reader, writer = await asyncio.open_connection(target.hostname, target.port)
    writer.write(f"GET /metrics HTTP/1.1\r\nHost: {target.hostname}\r\nConnection: close\r\n\r\n".encode())
    text = (await reader.read()).decode()
    writer.close()
    value = lambda name: (re.search(rf"^{name} (\S+)$", text, re.M) or [None, "?"])[1]
    return value("sluice_settlement_backlog"), value("sluice_requests_running")


async def monitor(deadline, started):
    print("minute  rss_kib  fds  settlement_backlog  running  tallies", flush=True)
    while True:
        rss, fds = process_figures()
        backlog, running = await gateway_figures()
        minute = (time.monotonic() - started) / 60
        print(f"{minute:6.1f}  {rss:7d}  {fds:3d}  {backlog:>18}  {running:>7}  {dict(tally)}", flush=True)
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(min(args.interval, max(0.0, deadline - time.monotonic())))


async def main():
    started = time.monotonic()
    deadline = started + args.minutes * 60
    watcher = asyncio.create_task(monitor(deadline, started))
    await asyncio.gather(*(worker(deadline) for _ in range(args.workers)))
    await watcher
    failures = sum(count for name, count in tally.items() if name not in ("200", "hung_up"))
    print(f"requests: {sum(v for k, v in tally.items() if k != 'hung_up')}, failures: {failures}", flush=True)
    sys.exit(1 if failures else 0)


asyncio.run(main())
