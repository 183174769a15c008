-- Other cities browsing during the slot-release rush (bench/nginx_rush.py, part `nginx` of `make bench`), and the
-- plain baselines of the same part (the trivial view, nginx's own answer) with the same latency line.
--
--   wrk -t4 -c20 -d120s -s bench/wrk/browse.lua https://127.0.0.1:PORT/ -- application bench2.localhost,... 2026-12,2027-01
--   wrk -t100 -c100 -d8s -s bench/wrk/browse.lua -H "Host: bench1.localhost" https://127.0.0.1:PORT/bench/trivial/
--
-- With arguments (the purpose's code, the hosts separated by commas, the months separated by commas) each request is
-- the next city's top page or month calendar, in turn, the Host header rotating per request. Without, each request
-- is the command line's URL and headers (wrk's own request).
-- done() prints one line for bench/wrk_run.py: FLOWS top=... calendar=... p50_us=... p95_us=... p99_us=... max_us=...
-- fail.<page>.<status>=... (for every answer other than 200).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local resident = dofile(here .. "resident.lua")

local threads = {}
setup = resident.thread_setup(threads)

local function split(text)
  local items = {}
  for item in (text or ""):gmatch("[^,]+") do
    table.insert(items, item)
  end
  return items
end

local purpose = nil
local hosts, months = {}, {}
local turn = 0
local page = "page"
counts = { top = 0, calendar = 0, page = 0 }
failures = {}

function init(args)
  purpose = args[1]
  hosts, months = split(args[2]), split(args[3])
  turn = id -- threads start on different cities
end

function request()
  if purpose == nil or #hosts == 0 then
    page = "page"
    return wrk.format()
  end
  turn = turn + 1
  local headers = { ["Accept-Language"] = "ja", ["Host"] = hosts[turn % #hosts + 1] }
  if turn % 2 == 0 or #months == 0 then
    page = "top"
    return wrk.format("GET", "/", headers)
  end
  page = "calendar"
  local month = months[math.floor(turn / 2) % #months + 1]
  return wrk.format("GET", "/book/" .. purpose .. "/?month=" .. month, headers)
end

function response(status, headers, body)
  -- One request in flight per connection and one connection per thread (-tN -cN) keep `page` this response's;
  -- with more connections than threads the counts per page are approximate, the failures' total is not.
  counts[page] = counts[page] + 1
  if status ~= 200 then
    local key = "fail." .. page .. "." .. tostring(status)
    failures[key] = (failures[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  local line = resident.flows_line(threads, { "top", "calendar", "page" })
  io.write(line .. resident.latency_fields(latency) .. "\n")
end
