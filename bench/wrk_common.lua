-- Shared by the wrk scripts of bench/run.sh: counts errors per thread and, in
-- done(), prints one machine-readable line:
--   BENCH requests=N duration_s=S rps=R p50_ms=.. p95_ms=.. p99_ms=.. max_ms=..
--         non2xx=N graphql_errors=N socket_errors=N
-- non2xx: answers outside 200..299; graphql_errors: 2xx answers whose body
-- carries "errors"; socket_errors: wrk's connect/read/write/timeout errors.
-- (done() runs in wrk's main Lua state, so the per-thread counters are read
-- back through thread:get.)
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  graphql_errors = 0
  math.randomseed(os.time() * 1000 + (id or 0))
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif body and string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function done(summary, latency, requests)
  local n2, ge = 0, 0
  for _, t in ipairs(threads) do
    n2 = n2 + (t:get("non2xx") or 0)
    ge = ge + (t:get("graphql_errors") or 0)
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rps=%.2f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d graphql_errors=%d socket_errors=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    n2, ge, e.connect + e.read + e.write + e.timeout))
end
