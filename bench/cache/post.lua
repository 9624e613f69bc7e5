-- wrk script: one fixed POST (path from the PATH_ env var, body from BODY_FILE) and a result
-- line the runner parses: requests, seconds, p50, p90 and p99 in microseconds, non-2xx,
-- socket errors.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.path = os.getenv("PATH_") or "/v1/chat/completions"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.6f %.1f %.1f %.1f %d %d\n", summary.requests,
                         summary.duration / 1e6, latency:percentile(50), latency:percentile(90),
                         latency:percentile(99),
                         e.status, e.connect + e.read + e.write + e.timeout))
end
