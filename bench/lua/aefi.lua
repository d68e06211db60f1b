-- Report an adverse event per request (POST /api/v1/{tenant}/aefi) as a centre's
-- vaccinator: a non-serious event (fever, headache) after one of the doses the setup
-- recorded, taken in turn (lua/people.lua: a dose may be reported on more than once, so
-- wrapping around is no error).
local people = require("people")

local tenant = os.getenv("VAXPORT_BENCH_TENANT") or "demodose"
local path = "/api/v1/" .. tenant .. "/aefi"

people.json_headers()
local pool = people.load("VAXPORT_BENCH_DOSES")
people.turns(pool)

request = function()
  local onset = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 3600)
  local body = string.format(
    '{"dose_id":"%s","symptoms":["10037660","10019211"],"onset_at":"%s",' ..
    '"serious":false,"outcome":"recovering"}', people.at(pool, take(1)), onset)
  return wrk.format("POST", path, nil, body)
end
