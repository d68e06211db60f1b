-- One fixed request, described by the scenario registry (bench/scenarios.py) through
-- the environment, so Python can send the very same request as a probe first:
--   VAXPORT_BENCH_METHOD        GET, POST, ...
--   VAXPORT_BENCH_BODY          request body (sent with VAXPORT_BENCH_CONTENT_TYPE)
--   VAXPORT_BENCH_HEADERS       extra headers, one "Name: value" per line
local report = require("report")

wrk.method = os.getenv("VAXPORT_BENCH_METHOD") or "GET"
wrk.headers["Accept"] = "application/json"

local body = os.getenv("VAXPORT_BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = os.getenv("VAXPORT_BENCH_CONTENT_TYPE") or "application/json"
end

local headers = os.getenv("VAXPORT_BENCH_HEADERS") or ""
for name, value in headers:gmatch("([^:\n]+):%s*([^\n]*)") do
  wrk.headers[name] = value
end

done = report.done
