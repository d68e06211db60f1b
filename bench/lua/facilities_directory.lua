-- The public facility directory, "centres near me", served from the cache.
--
-- Cycles through 64 points on the 0.01-degree grid the finder page's script rounds a
-- browser's position to, over the demo country's northern province: after the first
-- pass every request is a cache hit, as it is for a crowd in one town. The scenario's
-- setup (bench/scenarios.py) names its tenant in VAXPORT_BENCH_TENANT.
local report = require("report")

local tenant = os.getenv("VAXPORT_BENCH_TENANT") or "demodir"
local paths = {}
for i = 0, 7 do
  for j = 0, 7 do
    paths[#paths + 1] = string.format(
      "/api/v1/%s/facilities?lat=%.2f&lon=%.2f&limit=20", tenant, 48.20 + i * 0.05,
      -79.90 + j * 0.05)
  end
end

wrk.headers["Accept"] = "application/json"
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

done = report.done
