-- Upload an offline device's batch per request (POST /api/v1/{tenant}/sync/batches) as a
-- centre's vaccinator: VAXPORT_BENCH_BATCH dose records (50 by default), each for a
-- different prefilled person not vaccinated yet, each with a client UUID never sent
-- before, so every record of every request is written.
--
-- The setup (bench/doses.py) names the tenant, the lot and a file of person ids, taken
-- in turn (lua/people.lua). The answer's ``accepted`` count is summed and reported
-- (records/s beside req/s): a person used twice is answered ``rejected`` (too early for
-- the next dose) inside a 200, so the count, not the status, says what was written.
local people = require("people")

local tenant = os.getenv("VAXPORT_BENCH_TENANT") or "demodose"
local lot = os.getenv("VAXPORT_BENCH_LOT") or "BENCH1"
local size = tonumber(os.getenv("VAXPORT_BENCH_BATCH") or "50")
local path = "/api/v1/" .. tenant .. "/sync/batches"

people.json_headers()
local pool = people.load("VAXPORT_BENCH_PEOPLE")
local run = os.time() % 0x100000000
people.turns(pool, true)

-- Client UUIDs: the run's start second, the thread and the record's position (version
-- 4 and variant bits set), so no two records of two runs share one.
local function client_id(n)
  return string.format("%08x-%04x-4000-8000-%012x", run, (tid or 0) % 0x10000, n)
end

request = function()
  local first = take(size)
  local device = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 60)
  local records = {}
  for k = 0, size - 1 do
    records[#records + 1] = string.format(
      '{"kind":"dose","client_id":"%s","device_time":"%s","beneficiary_id":"%s",' ..
      '"product_id":"covid-mrna","lot_number":"%s","site":"left-arm","route":"IM"}',
      client_id(first + k), device, people.at(pool, first + k), lot)
  end
  local body = string.format('{"device_id":"bench-tablet-%d","records":[%s]}',
    tid or 0, table.concat(records, ","))
  return wrk.format("POST", path, nil, body)
end

response = function(status, headers, body)
  local accepted = body:match('"accepted":(%d+)')
  if status == 200 and accepted then records = records + tonumber(accepted) end
end
