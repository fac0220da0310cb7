#!/usr/bin/env python3
"""Turns bench/run's measurements (JSON lines) into the results table, in Markdown."""
import datetime
import json
import os
import platform
import subprocess
import sys

path, duration, sequential, streams, backend = sys.argv[1:6]
values = {}
for line in open(path):
    item = json.loads(line)
    values[(item["name"], item["side"])] = item["value"]


def get(name, side, *keys):
    value = values.get((name, side))
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


rows = []


def row(label, name, keys, unit, scale=1.0, direct=True):
    d = get(name, "direct", *keys) if direct else None
    p = get(name, "proxy", *keys) if direct else None
    s = get(name, "sluice", *keys)
    fmt = lambda v: "—" if v is None else (f"{v * scale:,.0f}" if v * scale >= 100 else f"{v * scale:,.2f}")
    ratio = lambda over: f"{over / d:.2f}" if d and over is not None else "—"
    rows.append(f"| {label} | {unit} | {fmt(d)} | {fmt(p)} | {ratio(p)} | {fmt(s)} | {ratio(s)} |")


for c in (1, 32, 256):
    row(f"chat, {c} conn: throughput", f"chat_c{c}", ["rps"], "req/s")
    for p in ("p50", "p90", "p99"):
        row(f"chat, {c} conn: latency {p}", f"chat_c{c}", [f"{p}_us"], "µs")
for p in ("p50", "p90", "p99"):
    row(f"sequential chat: latency {p}", "sequential", ["latency_us", p], "µs")
for p in ("p50", "p99"):
    row(f"streaming: first event {p}", "streaming", ["first_event_us", p], "µs")
for p in ("p50", "p99"):
    row(f"streaming: total {p}", "streaming", ["total_us", p], "µs")
row("/v1/models, 32 conn: throughput", "models", ["rps"], "req/s")
row("chat translated to Anthropic, 32 conn: throughput", "translated_c32", ["rps"], "req/s", direct=False)
for p in ("p50", "p99"):
    row(f"sequential chat translated to Anthropic: latency {p}", "translated_sequential", ["latency_us", p], "µs", direct=False)
row("/v1/messages passed through to Anthropic, 32 conn: throughput", "messages_c32", ["rps"], "req/s", direct=False)
row("/v1/messages passed through to Anthropic, 32 conn: latency p50", "messages_c32", ["p50_us"], "µs", direct=False)
row("/v1/responses translated to chat, 32 conn: throughput", "responses_c32", ["rps"], "req/s", direct=False)
row("/v1/responses translated to chat, 32 conn: latency p50", "responses_c32", ["p50_us"], "µs", direct=False)
row("/v1/responses passed through, 32 conn: throughput", "responses_native_c32", ["rps"], "req/s", direct=False)
row("/v1/responses passed through, 32 conn: latency p50", "responses_native_c32", ["p50_us"], "µs", direct=False)
row("memory: idle after start", "idle_rss_kib", [], "MiB", 1 / 1024, direct=False)
row("memory: idle after warm-up", "idle_after_load_rss_kib", [], "MiB", 1 / 1024, direct=False)
row("memory: peak under 256-conn load", "load_rss_kib", [], "MiB", 1 / 1024, direct=False)
row(f"memory: {streams} open streams", "open_streams", ["rss_kib"], "MiB", 1 / 1024, direct=False)

def added(name, keys, percentiles, side):
    """What `side` adds over going straight to the upstream, per percentile."""
    out = []
    for p in percentiles:
        d, s = get(name, "direct", *keys, p), get(name, side, *keys, p)
        if d is not None and s is not None:
            out.append(f"{p} {s - d:,.0f} µs")
    return ", ".join(out) or "—"

errors = []
for name in ("chat_c1", "chat_c32", "chat_c256", "models", "translated_c32", "messages_c32", "responses_c32", "responses_native_c32"):
    for side in ("direct", "proxy", "sluice"):
        e, n = get(name, side, "errors"), get(name, side, "non2xx")
        if e or n:
            errors.append(f"{name} {side}: {e} socket errors, {n} non-2xx")
for name in ("sequential", "streaming", "translated_sequential"):
    for side in ("direct", "proxy", "sluice"):
        if get(name, side, "failures"):
            errors.append(f"{name} {side}: {get(name, side, 'failures')} failures")
held = values.get(("open_streams", "sluice"), {})
if held.get("failures"):
    errors.append(f"open streams: {held['failures']} failed ({held.get('first_failure')})")
ledger = values.get(("ledger", "sluice"), {})

try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except (OSError, StopIteration):
    cpu = platform.processor()
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()

print(f"# Benchmark results\n")
print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC · commit {commit} · {os.cpu_count()} × {cpu}")
print(f"Sluice and nginx pinned to core 0; mock upstream, wrk and the probes on core 1. wrk loads {duration} s each;")
store = "PostgreSQL and Redis (on core 1, with the load)" if backend == "postgres" else "SQLite default"
print(f"{sequential} sequential requests; {store}. \"Direct\" is the same load straight to the mock upstream;")
print("\"nginx\" goes through nginx as a reverse proxy that does no work, pinned to Sluice's core: the limit.\n")
print("| measure | unit | direct | nginx | nginx/direct | Sluice | Sluice/direct |")
print("|---|---|---:|---:|---:|---:|---:|")
print("\n".join(rows))
print()
seq_keys, first_event = ["latency_us"], ["first_event_us"]
print(f"- Added latency at one connection ({sequential} sequential requests, over direct): "
      f"Sluice {added('sequential', seq_keys, ('p50', 'p90', 'p99'), 'sluice')}; "
      f"nginx {added('sequential', seq_keys, ('p50', 'p90', 'p99'), 'proxy')}")
print(f"- Added time to first streamed event: Sluice {added('streaming', first_event, ('p50', 'p99'), 'sluice')}; "
      f"nginx {added('streaming', first_event, ('p50', 'p99'), 'proxy')}")
translated, passed = get("translated_c32", "sluice", "rps"), get("chat_c32", "sluice", "rps")
t50, s50 = get("translated_sequential", "sluice", "latency_us", "p50"), get("sequential", "sluice", "latency_us", "p50")
if translated and passed and t50 and s50:
    print(f"- Translated path (OpenAI chat in, Anthropic Messages out, the same mock): {translated:,.0f} req/s at 32 conn, "
          f"{translated / passed:.2f} of pass-through; sequential p50 {t50 - s50:+,.0f} µs over pass-through")
print(f"- Open streams held: {held.get('open', '—')} of {streams}")
print(f"- Errors: {'; '.join(errors) if errors else 'none'}")
verdict = "balances" if ledger.get("balanced") else f"DOES NOT BALANCE: {ledger.get('problems')}"
print(f"- Ledger after the run: {verdict} ({ledger.get('usage_rows', '?')} usage rows, {ledger.get('ledger_entries', '?')} ledger entries)")
