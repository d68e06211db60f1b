-- wrk script: the public facility directory, "centres near me", served from the cache.
--
-- Cycles through 64 points on the 0.01-degree grid the finder page's script rounds a
-- browser's position to, over the demo country's northern province, so after the first
-- pass every request is a cache hit (as it is for a real crowd in one town). Until the
-- `vaxport bench` scenario registry exists on main, run it by hand against a server
-- holding the demo tenant and its centres, beside a no-op ceiling:
--
--   VAXPORT_RATE_LIMIT_ENABLED=false vaxport demo --port 8000 &
--   wrk -t1 -c64 -d10s --latency http://127.0.0.1:8000/healthz
--   wrk -t1 -c64 -d10s -s bench/facilities_directory.lua http://127.0.0.1:8000
--
-- Registry entry once the harness lands (bench/scenarios.py):
--   Scenario(name="facilities", method="GET", lua="facilities_directory.lua",
--            path="/api/v1/{tenant}/facilities", setup=<load_demo_tenant, then
--            `vaxport facility import countries/demo-facilities.csv --tenant demo -q`>,
--            description="public directory near a point (cached)")
local tenant = os.getenv("VAXPORT_BENCH_TENANT") or "demo"
local paths = {}
for i = 0, 7 do
  for j = 0, 7 do
    local lat = 48.20 + i * 0.05
    local lon = -79.90 + j * 0.05
    paths[#paths + 1] = string.format(
      "/api/v1/%s/facilities?lat=%.2f&lon=%.2f&limit=20", tenant, lat, lon)
  end
end

local counter = 0
wrk.headers["Accept"] = "application/json"

request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

done = function(summary, latency, requests)
  io.write(string.format("requests %d, non-2xx/3xx %d\n", summary.requests,
    summary.errors.status))
  for _, p in ipairs({ 50, 90, 99 }) do
    io.write(string.format("p%d %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
