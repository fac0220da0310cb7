#!/usr/bin/env bash
# Quick throughput check for non-streaming chat: straight to the demo upstream, then through Sluice.
# Release build, SQLite default, 32 connections, loopback only, bounded in time.
# Usage: bench/quick-chat.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}; connections=${2:-32}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
swift build -c release --product sluice >/dev/null
bin="$(swift build -c release --show-bin-path)/sluice"
log=$(mktemp)
SLUICE_LOGGING_LEVEL=error "$bin" serve --demo --port 18080 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q '^API key:' "$log" && break; sleep 0.1; done
key=$(awk '/^API key:/{print $3}' "$log")
upstream=$(awk '/^Demo upstream:/{print $3}' "$log")
echo "direct to the mock upstream ($connections connections, ${duration}s):"
SLUICE_KEY="" wrk -t2 -c"$connections" -d"${duration}s" --latency -s bench/chat.lua "$upstream/chat/completions" | grep RESULT
echo "through Sluice:"
SLUICE_KEY="$key" wrk -t2 -c"$connections" -d"${duration}s" --latency -s bench/chat.lua "http://127.0.0.1:18080/v1/chat/completions" | grep RESULT
