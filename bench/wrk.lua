-- wrk script of the benchmark (bench/load.py): request shape from the environment,
-- results as one JSON line so the Python side never parses wrk's human output.
--
--   BENCH_WRK_METHOD         GET (default) or POST
--   BENCH_WRK_BODY           request body, sent as is
--   BENCH_WRK_CONTENT_TYPE   Content-Type of the body
--   BENCH_WRK_AUTHORIZATION  value of the Authorization header
--   BENCH_WRK_DELAY_MS       pause of each connection between two requests (0: none)

wrk.method = os.getenv("BENCH_WRK_METHOD") or "GET"

local body = os.getenv("BENCH_WRK_BODY")
if body and body ~= "" then
  wrk.body = body
end

local content_type = os.getenv("BENCH_WRK_CONTENT_TYPE")
if content_type and content_type ~= "" then
  wrk.headers["Content-Type"] = content_type
end

local authorization = os.getenv("BENCH_WRK_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

local delay_ms = tonumber(os.getenv("BENCH_WRK_DELAY_MS") or "0") or 0
if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d," ..
    "\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d," ..
    "\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d,\"mean_us\":%.1f}\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
