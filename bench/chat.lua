-- wrk script: non-streaming chat completions with a bearer key from $SLUICE_KEY (empty for the mock).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("SLUICE_KEY") or ""
if key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
wrk.body = '{"model":"sluice-demo","max_tokens":64,"messages":[{"role":"user","content":"Say hello."}]}'

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
