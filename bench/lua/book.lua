-- Book a seat per request (POST /api/v1/{tenant}/appointments) as a national
-- administrator: each request a different prefilled person, the slots taken in turn.
--
-- The setup (bench/booking.py) names the tenant, a file of person ids (one a line) and
-- the slots (comma-separated): `book` 10 hot slots, `book-spread` 1,000. People are
-- taken in turn (lua/people.lua); a person used twice answers 409 (a non-2xx).
local people = require("people")

local tenant = os.getenv("VAXPORT_BENCH_TENANT") or "demobook"
local path = "/api/v1/" .. tenant .. "/appointments"

people.json_headers()
local pool = people.load("VAXPORT_BENCH_PEOPLE")
local slots = {}
for id in (os.getenv("VAXPORT_BENCH_SLOTS") or ""):gmatch("[^,]+") do
  slots[#slots + 1] = id
end
people.turns(pool)

request = function()
  local n = take(1)
  local body = string.format('{"beneficiary_id":"%s","slot_id":"%s"}',
    people.at(pool, n), slots[(n % #slots) + 1])
  return wrk.format("POST", path, nil, body)
end
