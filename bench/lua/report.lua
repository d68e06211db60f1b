-- Prints one machine-readable line after a wrk run: exact counts, errors and latency
-- percentiles (microseconds), and the records accepted when a script counts them (a
-- batch per request). The Python side reads only this line.
local M = {}

function M.done(summary, latency, requests, records)
  local e = summary.errors
  local extra = records and string.format(',"records":%d', records) or ""
  io.write(string.format(
    'VAXPORT_WRK {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}%s}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, extra))
end

return M
