-- Register a new person per request (POST /api/v1/{tenant}/beneficiaries) as a staff
-- member: encrypted fields under a fresh subject key, blind indexes, the unique ID wall,
-- the look-alike check, an audit entry and an outbox event.
--
-- Every request carries a different Luhn-valid national ID (and name), so none is a
-- duplicate: 9 digits = the run's start second (4 digits) and a per-thread counter,
-- then the Luhn check digit. Runs last at least a few seconds, so two runs never
-- share a start second. The setup (bench/scenarios.py) names the tenant and the token.
local report = require("report")
local people = require("people")

local tenant = os.getenv("VAXPORT_BENCH_TENANT") or "demoreg"
local path = "/api/v1/" .. tenant .. "/beneficiaries"

people.json_headers()

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads - 1)
  thread:set("nthreads", 0) -- filled in init of each thread from the global count below
end

local function luhn_digit(payload)
  local sum, double = 0, true
  for i = #payload, 1, -1 do
    local d = tonumber(payload:sub(i, i))
    if double then
      d = d * 2
      if d > 9 then d = d - 9 end
    end
    sum = sum + d
    double = not double
  end
  return tostring((10 - sum % 10) % 10)
end

-- The run's start second also names the people: a later run (register-idem after
-- register) must not register look-alikes of an earlier run's people.
local base = (os.time() % 10000) * 100000
-- register-idem: an Idempotency-Key of its own on every request.
local idempotent = os.getenv("VAXPORT_BENCH_IDEMPOTENCY") == "1"
local counter = 0
local step = 8 -- up to 8 wrk threads interleave their counters

request = function()
  local id = (tid or 0) + counter * step
  counter = counter + 1
  local payload = string.format("%09d", base + id % 100000)
  local number = payload .. luhn_digit(payload)
  local body = string.format(
    '{"given_name":"Bench%d","family_name":"Runner","sex":"female",' ..
    '"birth_date":"19%02d-%02d-%02d","documents":[{"id_type":"national-id","number":"%s"}],' ..
    '"phone":"+1613555%04d","region_code":"CEN-01-01","preferred_locale":"en"}',
    base + id, 40 + id % 50, 1 + id % 12, 1 + id % 28, number, 100 + id % 100)
  local headers = nil
  if idempotent then
    headers = people.with_header("Idempotency-Key", string.format("bench-%d-%d", base, id))
  end
  return wrk.format("POST", path, headers, body)
end

done = report.done
