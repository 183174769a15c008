-- The resident flow for wrk (bench/wrk_pages.py, part `http` of `make bench`): one resident after another, each a new
-- cookie jar, through day page -> hold (POST) -> hold form -> confirmation (POST) -> done page.
--
--   wrk -tN -cN -d6s -s bench/wrk/flow.lua -H "Host: ageo.localhost" \
--       http://127.0.0.1:PORT/book/application/2026-12-09/ -- application 2026-12-09 [cards file] [threads]
--
-- Run it with as many threads as connections: wrk keeps one Lua state per thread and does not say which connection
-- a response belongs to, so one connection per thread is what makes "this resident's cookies" well defined.
-- Arguments: the purpose's code, the day (YYYY-MM-DD), and for a purpose that needs a notice number a file of
-- generated cards, one "notice number,year,month,day" a line, and the number of threads n: thread k uses the
-- cards k, k + n, k + 2n, ...
-- done() prints one line for bench/wrk_pages.py: FLOWS completed=... fail.<step>.<status>=...

-- The shared helpers, from this script's own directory (wrk loads the script by the path it was given).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local resident = dofile(here .. "resident.lua")

local threads = {}
setup = resident.thread_setup(threads)

local purpose, day, day_path
local cards = {}
local card_next = 0
local stride = 1
local step = "day"
local cookies = {}
local form = {}
local next_path = nil
local person = 0
counts = { completed = 0 }
failures = {}

function init(args)
  purpose, day = args[1], args[2]
  day_path = "/book/" .. purpose .. "/" .. day .. "/"
  if args[3] and args[3] ~= "" then
    local file = assert(io.open(args[3], "r"))
    for line in file:lines() do
      local number, y, m, d = line:match("^([^,]+),(%d+),(%d+),(%d+)")
      if number then
        table.insert(cards, { number = number, year = y, month = m, day = d })
      end
    end
    file:close()
  end
  stride = tonumber(args[4]) or 1
  card_next = id + 1
  math.randomseed(os.time() * 1000 + id) -- every thread's Lua state starts with the same seed otherwise
end

local function fail(status)
  local key = "fail." .. step .. "." .. tostring(status)
  failures[key] = (failures[key] or 0) + 1
  step = "day"
end

function request()
  local headers = { ["Accept-Language"] = "ja" }
  if step == "day" then
    cookies = {} -- a new resident
    form = {}
    return wrk.format("GET", day_path, headers)
  end
  headers["Cookie"] = resident.cookie_header(cookies)
  if step == "hold" then
    return resident.post(day_path, headers, resident.hold_fields(form))
  elseif step == "form" or step == "done" then
    return wrk.format("GET", next_path, headers)
  else -- confirm
    person = person + 1
    local birth, extra
    if #cards > 0 then
      local card = cards[card_next] or cards[1]
      card_next = card_next + stride
      birth, extra = { card.year, card.month, card.day }, { { "p1-notice_number", card.number } }
    else
      -- A person is their date of birth and name's kana (digits fold away): one date per thread and flow,
      -- k = 1000 * thread + flow, 336 dates a year from 1920 (no two threads share one below 1000 flows each).
      birth = resident.birth_date(1920, (1000 * id + person % 1000) % 30000)
    end
    local name, email = "ベンチ 花子" .. id .. "-" .. person, "resident" .. id .. "-" .. person .. "@example.jp"
    return resident.post(next_path, headers, resident.confirm_fields(form, name, birth, email, extra))
  end
end

function response(status, headers, body)
  resident.keep_cookies(cookies, headers)
  if step == "day" then
    if status ~= 200 then
      return fail(status)
    end
    local free = resident.free_slots(body)
    if #free == 0 then
      return fail("nofree")
    end
    form.csrf = resident.hidden(body, "csrfmiddlewaretoken")
    form.slot = free[math.random(#free)]
    step = "hold"
  elseif step == "hold" then
    local target = resident.redirected(status, headers, "/book/hold/")
    if not target then
      return fail(status)
    end
    next_path = target
    step = "form"
  elseif step == "form" then
    if status ~= 200 then
      return fail(status)
    end
    resident.read_form(form, body)
    step = "confirm"
  elseif step == "confirm" then
    local target = resident.redirected(status, headers, "/book/done/")
    if not target then
      return fail(status)
    end
    next_path = target
    step = "done"
  else -- done
    if status ~= 200 then
      return fail(status)
    end
    counts.completed = counts.completed + 1
    step = "day"
  end
end

function done(summary, latency, requests)
  io.write(resident.flows_line(threads, { "completed" }) .. "\n")
end
