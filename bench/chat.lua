-- wrk script: chat completions for $BENCH_MODEL (default sluice-demo), $BENCH_BODY when set (for
-- another API's body), or a GET, with a bearer key from $SLUICE_KEY (empty: none).
local key = os.getenv("SLUICE_KEY") or ""
if key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
if os.getenv("BENCH_GET") == "1" then
  wrk.method = "GET"
else
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local model = os.getenv("BENCH_MODEL") or "sluice-demo"
  wrk.body = os.getenv("BENCH_BODY") or '{"model":"' .. model .. '","max_tokens":64,"messages":[{"role":"user","content":"Say hello."}]}'
end

done = function(summary, latency, requests)
  io.write(string.format('RESULT {"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"errors":%d,"non2xx":%d,"requests":%d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status,
    summary.requests))
end
