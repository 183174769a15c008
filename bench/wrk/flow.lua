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
local form_body, hidden, location = resident.form_body, resident.hidden, resident.location

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local purpose, day, day_path
local cards = {}
local card_next = 0
local stride = 1
local step = "day"
local cookies = {}
local form = {}
local next_path = nil
local person = 0
completed = 0
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
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return wrk.format("POST", day_path, headers, form_body({
      { "csrfmiddlewaretoken", form.csrf },
      { "slot", form.slot },
      { "persons", "1" },
    }))
  elseif step == "form" or step == "done" then
    return wrk.format("GET", next_path, headers)
  else -- confirm
    person = person + 1
    local fields = {
      { "csrfmiddlewaretoken", form.csrf },
      { "p1-name", "ベンチ 花子" .. id .. "-" .. person },
      { "p1-kana", "" },
      { "p1-birth_date_0", "western" },
    }
    if #cards > 0 then
      local card = cards[card_next] or cards[1]
      card_next = card_next + stride
      table.insert(fields, { "p1-notice_number", card.number })
      table.insert(fields, { "p1-birth_date_1", card.year })
      table.insert(fields, { "p1-birth_date_2", card.month })
      table.insert(fields, { "p1-birth_date_3", card.day })
    else
      -- A person is their date of birth and name's kana (digits fold away): one date per thread and flow,
      -- k = 1000 * thread + flow, 336 dates a year from 1920 (no two threads share one below 1000 flows each).
      local k = (1000 * id + person % 1000) % 30000
      table.insert(fields, { "p1-birth_date_1", tostring(1920 + math.floor(k / 336)) })
      table.insert(fields, { "p1-birth_date_2", tostring(1 + math.floor(k / 28) % 12) })
      table.insert(fields, { "p1-birth_date_3", tostring(1 + k % 28) })
    end
    table.insert(fields, { "email", "resident" .. id .. "-" .. person .. "@example.jp" })
    table.insert(fields, { "phone", "090-1234-5678" })
    table.insert(fields, { "submission_key", form.submission_key })
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return wrk.format("POST", next_path, headers, form_body(fields))
  end
end

function response(status, headers, body)
  resident.keep_cookies(cookies, headers)
  if step == "day" then
    if status ~= 200 then
      return fail(status)
    end
    local free = {}
    for slot, rest in body:gmatch('<input type="radio" name="slot" id="slot%-(%d+)" value="%d+"([^>]*)>') do
      if not rest:match("^%s*disabled") then
        table.insert(free, slot)
      end
    end
    if #free == 0 then
      return fail("nofree")
    end
    form.csrf = hidden(body, "csrfmiddlewaretoken")
    form.slot = free[math.random(#free)]
    step = "hold"
  elseif step == "hold" then
    local target = location(headers)
    if status ~= 302 or not target or not target:find("/book/hold/", 1, true) then
      return fail(status)
    end
    next_path = target
    step = "form"
  elseif step == "form" then
    if status ~= 200 then
      return fail(status)
    end
    form.csrf = hidden(body, "csrfmiddlewaretoken")
    form.submission_key = hidden(body, "submission_key")
    step = "confirm"
  elseif step == "confirm" then
    local target = location(headers)
    if status ~= 302 or not target or not target:find("/book/done/", 1, true) then
      return fail(status)
    end
    next_path = target
    step = "done"
  else -- done
    if status ~= 200 then
      return fail(status)
    end
    completed = completed + 1
    step = "day"
  end
end

function done(summary, latency, requests)
  local total, fails = 0, {}
  for _, thread in ipairs(threads) do
    total = total + (thread:get("completed") or 0)
    for key, count in pairs(thread:get("failures") or {}) do
      fails[key] = (fails[key] or 0) + count
    end
  end
  local line = "FLOWS completed=" .. total
  for key, count in pairs(fails) do
    line = line .. " " .. key .. "=" .. count
  end
  io.write(line .. "\n")
end
