-- Book a seat per request (POST /api/v1/{tenant}/appointments) as a national
-- administrator: each request a different prefilled person, the slots taken in turn.
--
-- The setup (bench/booking.py) names the tenant, a file of person ids (one a line) and
-- the slots (comma-separated): `book` 10 hot slots, `book-spread` 1,000. Thread k of wrk
-- starts at the k-th eighth of the people not used yet and goes on from there (one
-- thread: every person in turn), so no two requests book the same person while a
-- thread stays in its eighth; a person used twice answers 409 (a non-2xx in the table).
local report = require("report")

local tenant = os.getenv("VAXPORT_BENCH_TENANT") or "demobook"
local path = "/api/v1/" .. tenant .. "/appointments"

wrk.method = "POST"
wrk.headers["Accept"] = "application/json"
wrk.headers["Content-Type"] = "application/json"
local headers = os.getenv("VAXPORT_BENCH_HEADERS") or ""
for name, value in headers:gmatch("([^:\n]+):%s*([^\n]*)") do
  wrk.headers[name] = value
end

local people = {}
local file = io.open(os.getenv("VAXPORT_BENCH_PEOPLE") or "", "r")
if file then
  for line in file:lines() do
    if #line > 0 then people[#people + 1] = line end
  end
  file:close()
end
local slots = {}
for id in (os.getenv("VAXPORT_BENCH_SLOTS") or ""):gmatch("[^,]+") do
  slots[#slots + 1] = id
end

-- Where this run starts: past every person an earlier run of the file used (the warm-up
-- and the measured run are two wrk runs), kept in a file beside it.
local state = (os.getenv("VAXPORT_BENCH_PEOPLE") or "people") .. ".next"
local start = 0
local saved = io.open(state, "r")
if saved then
  start = tonumber(saved:read("*l")) or 0
  saved:close()
end
local block = math.floor((#people - start) / 8)

local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

counter = 0

request = function()
  local n = start + (tid or 0) * block + counter
  counter = counter + 1
  local person = people[(n % #people) + 1]
  local slot = slots[(n % #slots) + 1]
  local body = string.format('{"beneficiary_id":"%s","slot_id":"%s"}', person, slot)
  return wrk.format("POST", path, nil, body)
end

done = function(summary, latency, requests)
  local last = start
  for k, thread in ipairs(threads) do
    last = math.max(last, start + (k - 1) * block + (thread:get("counter") or 0))
  end
  local out = io.open(state, "w")
  if out then
    out:write(tostring(last + 1))
    out:close()
  end
  report.done(summary, latency, requests)
end
