-- What the scripts that take prefilled people in turn share (book, dose, sync, aefi):
-- the setup's headers on every request, the ids of a file (one a line), where this run
-- starts in it, and a way for each wrk thread to take the next ones.
--
-- Thread k starts at the k-th eighth of the ids not used yet and goes on from there
-- (one thread: every id in turn), so no two requests take the same id while a thread
-- stays in its eighth. The warm-up and the measured run are two wrk runs: where the
-- next one starts is kept in a file beside the ids (``<file>.next``).
local report = require("report")

local M = {}

-- JSON requests with the setup's headers (VAXPORT_BENCH_HEADERS: "Name: value" lines).
function M.json_headers()
  wrk.method = "POST"
  wrk.headers["Accept"] = "application/json"
  wrk.headers["Content-Type"] = "application/json"
  local extra = os.getenv("VAXPORT_BENCH_HEADERS") or ""
  for name, value in extra:gmatch("([^:\n]+):%s*([^\n]*)") do
    wrk.headers[name] = value
  end
end

-- The ids of the file named by the environment variable ``var``.
function M.load(var)
  local ids = {}
  local file = io.open(os.getenv(var) or "", "r")
  if file then
    for line in file:lines() do
      if #line > 0 then ids[#ids + 1] = line end
    end
    file:close()
  end
  local state = (os.getenv(var) or "people") .. ".next"
  local start = 0
  local saved = io.open(state, "r")
  if saved then
    start = tonumber(saved:read("*l")) or 0
    saved:close()
  end
  return {ids = ids, state = state, start = start, block = math.floor((#ids - start) / 8)}
end

-- Install wrk's ``setup``, a ``take(n)`` that gives the position of the next ``n`` ids of
-- this thread, and ``done`` (which saves where the next run starts, then reports; with
-- ``counted`` the sum of each thread's global ``records`` goes in the report).
function M.turns(pool, counted)
  local threads = {}
  function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
  end
  counter = 0
  records = 0
  function take(n)
    local first = pool.start + (tid or 0) * pool.block + counter
    counter = counter + n
    return first
  end
  function done(summary, latency, requests)
    local last, total = pool.start, 0
    for k, thread in ipairs(threads) do
      last = math.max(last, pool.start + (k - 1) * pool.block + (thread:get("counter") or 0))
      total = total + (thread:get("records") or 0)
    end
    local out = io.open(pool.state, "w")
    if out then
      out:write(tostring(last + 1))
      out:close()
    end
    report.done(summary, latency, requests, counted and total or nil)
  end
end

-- The id at position ``n`` (wrapping around: an id used twice is refused, a non-2xx).
function M.at(pool, n)
  return pool.ids[(n % #pool.ids) + 1]
end

-- A copy of wrk.headers with ``name`` set (wrk.format takes these instead of
-- wrk.headers, not beside them).
function M.with_header(name, value)
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers[name] = value
  return headers
end

return M
