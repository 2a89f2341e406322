-- wrk script: POSTs the GraphQL request in $BODY, counts non-200 answers and
-- answers carrying "errors" as errors.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")
local failed = 0
response = function(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    failed = failed + 1
  end
end
done = function(summary, latency, requests)
  io.write(string.format("graphql_errors %d\n", failed))
end
