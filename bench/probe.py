#!/usr/bin/env python3
"""Latency probes that wrk cannot take, over raw keep-alive sockets so the client adds little.

  probe.py seq    URL KEY N   N sequential non-streaming chats on one connection: per-request latency
  probe.py stream URL KEY N   N sequential streaming chats: time to first event and total time
  probe.py hold   URL KEY N PID
                              N streams open at once; once each has its first event, print the
                              resident memory of process PID, then close them all

URL is the full chat completions URL; KEY may be "" (straight to the upstream). Output is one JSON
object on standard output, times in microseconds. Every wait is bounded by a timeout. The model is
$BENCH_MODEL, else sluice-demo. $BENCH_PROMPT_BYTES pads the prompt to about that many bytes (a long
conversation); for `hold`, $BENCH_OPEN_CONCURRENCY opens at most that many streams at a time (as
clients arrive over time) instead of all at once.
"""
import asyncio
import json
import os
import socket
import sys
import time
from urllib.parse import urlsplit

TIMEOUT = 30.0


def body(stream):
    prompt = "Say hello." + " x" * (int(os.environ.get("BENCH_PROMPT_BYTES", "0")) // 2)
    payload = {"model": os.environ.get("BENCH_MODEL", "sluice-demo"), "max_tokens": 64, "messages": [{"role": "user", "content": prompt}]}
    if stream:
        payload["stream"] = True
    return json.dumps(payload, separators=(",", ":")).encode()


def request_bytes(url, key, payload):
    parts = urlsplit(url)
    head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json",
            f"Content-Length: {len(payload)}"]
    if key:
        head.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


def connect(url):
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock, on_first_event=None):
    """Reads one response; returns the status. Handles Content-Length and chunked bodies."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed inside the body")
            rest += chunk
        return status
    # Chunked: the body ends with the zero-length chunk.
    seen_event = False
    while True:
        if on_first_event and not seen_event and b"data:" in rest:
            seen_event = True
            on_first_event()
        if rest.endswith(b"0\r\n\r\n") and (rest == b"0\r\n\r\n" or rest.endswith(b"\r\n0\r\n\r\n")):
            return status
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a chunked body")
        rest += chunk


def percentiles(samples):
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "max": ordered[-1], "n": len(ordered)}


def run_seq(url, key, count):
    sock = connect(url)
    request = request_bytes(url, key, body(False))
    latencies, failures = [], 0
    for i in range(count + count // 10):  # the first tenth warms up and is not counted
        start = time.perf_counter_ns()
        sock.sendall(request)
        status = read_response(sock)
        elapsed = (time.perf_counter_ns() - start) / 1000
        if i >= count // 10:
            latencies.append(elapsed)
            failures += status != 200
    return {"latency_us": percentiles(latencies), "failures": failures}


def run_stream(url, key, count):
    sock = connect(url)
    request = request_bytes(url, key, body(True))
    firsts, totals, failures = [], [], 0
    for i in range(count + count // 10):
        start = time.perf_counter_ns()
        first = []
        sock.sendall(request)
        status = read_response(sock, on_first_event=lambda: first.append(time.perf_counter_ns()))
        end = time.perf_counter_ns()
        if i >= count // 10:
            failures += status != 200 or not first
            if first:
                firsts.append((first[0] - start) / 1000)
            totals.append((end - start) / 1000)
    return {"first_event_us": percentiles(firsts), "total_us": percentiles(totals), "failures": failures}


def resident_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def run_hold(url, key, count, pid):
    parts = urlsplit(url)
    request = request_bytes(url, key, body(True))
    opened = []
    gate = asyncio.Semaphore(int(os.environ.get("BENCH_OPEN_CONCURRENCY", "0")) or count)

    async def open_one():
        async with gate:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            writer.write(request)
            await writer.drain()
            seen = b""
            while b"data:" not in seen:
                chunk = await reader.read(65536)
                if not chunk:
                    raise ConnectionError("stream closed before its first event")
                seen += chunk
            opened.append(writer)

    results = await asyncio.wait_for(asyncio.gather(*(open_one() for _ in range(count)), return_exceptions=True), TIMEOUT * 4)
    failures = [r for r in results if isinstance(r, Exception)]
    await asyncio.sleep(1.0)  # let the gateway settle into the steady state of open streams
    rss = resident_kib(pid)
    for writer in opened:
        writer.close()
    return {"open": len(opened), "failures": len(failures), "rss_kib": rss,
            "first_failure": repr(failures[0]) if failures else None}


def main():
    mode, url, key, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if mode == "seq":
        result = run_seq(url, key, count)
    elif mode == "stream":
        result = run_stream(url, key, count)
    elif mode == "hold":
        result = asyncio.run(run_hold(url, key, count, int(sys.argv[5])))
    else:
        sys.exit(f"unknown mode {mode}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
