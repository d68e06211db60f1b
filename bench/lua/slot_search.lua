-- The public slot search, as a crowd asks it: the coming days of a region, sometimes for a
-- given age, cycling through the demo country's 30 regions (60 distinct searches). After
-- the first pass every answer comes from the cache (a process's near copy, or the shared
-- one), rebuilt from the database once per key per shared life (1.5 s). The scenario's
-- setup (bench/scenarios.py) names its tenant in VAXPORT_BENCH_TENANT.
local report = require("report")

local tenant = os.getenv("VAXPORT_BENCH_TENANT") or "demoslots"
local regions = {
  "NOR", "NOR-01", "NOR-01-01", "NOR-01-02", "NOR-02", "NOR-02-01", "NOR-02-02", "NOR-03",
  "NOR-03-01", "NOR-03-02", "CEN", "CEN-01", "CEN-01-01", "CEN-01-02", "CEN-02", "CEN-02-01",
  "CEN-02-02", "CEN-03", "CEN-03-01", "CEN-03-02", "SOU", "SOU-01", "SOU-01-01", "SOU-01-02",
  "SOU-02", "SOU-02-01", "SOU-02-02", "SOU-03", "SOU-03-01", "SOU-03-02",
}
local paths = {}
for _, region in ipairs(regions) do
  paths[#paths + 1] = string.format("/api/v1/%s/slots?region=%s&limit=20", tenant, region)
  paths[#paths + 1] = string.format("/api/v1/%s/slots?region=%s&age=30&limit=20", tenant, region)
end

wrk.headers["Accept"] = "application/json"
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

done = report.done
