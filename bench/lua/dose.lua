-- Record a dose per request (POST /api/v1/{tenant}/doses) as a centre's vaccinator: each
-- request a different prefilled person registered at that centre, the same lot, and an
-- Idempotency-Key of its own (its answer is kept with the dose).
--
-- The setup (bench/doses.py) names the tenant, the lot and a file of person ids (one a
-- line), taken in turn (lua/people.lua); a person used twice answers 409
-- ``dose-already-recorded`` (a non-2xx in the table). A line ``person,appointment``
-- (record_dose-appt) sends the appointment the dose completes.
local people = require("people")

local tenant = os.getenv("VAXPORT_BENCH_TENANT") or "demodose"
local lot = os.getenv("VAXPORT_BENCH_LOT") or "BENCH1"
local path = "/api/v1/" .. tenant .. "/doses"

people.json_headers()
local pool = people.load("VAXPORT_BENCH_PEOPLE")
local run = os.time() % 100000
people.turns(pool)

request = function()
  local n = take(1)
  local person, appointment = people.at(pool, n):match("([^,]+),?(.*)")
  local extra = #appointment > 0 and string.format(',"appointment_id":"%s"', appointment) or ""
  local body = string.format(
    '{"beneficiary_id":"%s","product_id":"covid-mrna","lot_number":"%s",' ..
    '"site":"left-arm","route":"IM"%s}', person, lot, extra)
  local headers = people.with_header("Idempotency-Key", string.format("dose-%d-%d", run, n))
  return wrk.format("POST", path, headers, body)
end
