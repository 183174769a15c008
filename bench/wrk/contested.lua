-- Contested slots for wrk (bench/wrk_contested.py, issue 12 item 4): many residents after one day of 15 slots x 4
-- seats. Each connection (one per wrk thread: the Lua state is per thread) is a resident with a new cookie jar:
-- day page -> hold (POST) on a random free time; "just taken" (409) -> the next free time of the same page, and a
-- new day page when none is left -> hold form -> confirmation (POST) -> the next resident (the done page is not
-- loaded: this measures the writes). bench/wrk_contested.py stops wrk (SIGINT) once the day is sold out.
--
--   wrk -t200 -c200 -d30s -s bench/wrk/contested.lua -H "Host: ageo.localhost" \
--       http://127.0.0.1:PORT/book/application/2026-12-09/ -- application 2026-12-09 A
--
-- Arguments: the purpose's code, the day, and a run tag (one katakana letter a run: a person is their name's kana and
-- date of birth, and may hold one future booking per purpose, so no two runs share a person).
-- done() prints one line: FLOWS holds=... held=... hold_taken=... confirms=... booked=... soldout=... fail.<step>.<status>=...

-- The shared helpers, from this script's own directory (wrk loads the script by the path it was given).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local resident = dofile(here .. "resident.lua")

local threads = {}
setup = resident.thread_setup(threads)

local day_path, tag
local step = "day"
local cookies = {}
local form = {}
local free = {}
local next_path = nil
local person = 0
counts = { holds = 0, held = 0, hold_taken = 0, confirms = 0, booked = 0, soldout = 0 }
failures = {}

function init(args)
  day_path = "/book/" .. args[1] .. "/" .. args[2] .. "/"
  tag = args[3] or "ア"
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
    cookies = {}
    form = {}
    return wrk.format("GET", day_path, headers)
  end
  headers["Cookie"] = resident.cookie_header(cookies)
  if step == "hold" then
    return resident.post(day_path, headers, resident.hold_fields(form))
  elseif step == "form" then
    return wrk.format("GET", next_path, headers)
  end
  -- confirm: one person per thread and booking, 20 a thread at most per run (dates of birth from 1950)
  person = person + 1
  local k = 20 * id + person % 20
  local email = "contested" .. id .. "-" .. person .. "@example.jp"
  local fields = resident.confirm_fields(form, "コンテスト " .. tag, resident.birth_date(1950, k), email)
  return resident.post(next_path, headers, fields)
end

function response(status, headers, body)
  resident.keep_cookies(cookies, headers)
  if step == "day" then
    if status ~= 200 then
      return fail(status)
    end
    free = resident.free_slots(body)
    form.csrf = resident.hidden(body, "csrfmiddlewaretoken")
    form.slot = resident.take_free(free)
    if form.slot == nil then
      counts.soldout = counts.soldout + 1
      return
    end
    step = "hold"
  elseif step == "hold" then
    counts.holds = counts.holds + 1
    local target = resident.redirected(status, headers, "/book/hold/")
    if target then
      counts.held = counts.held + 1
      next_path = target
      step = "form"
    elseif status == 409 then
      counts.hold_taken = counts.hold_taken + 1
      form.slot = resident.take_free(free)
      if form.slot == nil then
        step = "day"
      end
    else
      return fail(status)
    end
  elseif step == "form" then
    if status ~= 200 then
      return fail(status)
    end
    resident.read_form(form, body)
    step = "confirm"
  else -- confirm
    counts.confirms = counts.confirms + 1
    if resident.redirected(status, headers, "/book/done/") then
      counts.booked = counts.booked + 1
      step = "day"
    else
      return fail(status)
    end
  end
end

function done(summary, latency, requests)
  io.write(resident.flows_line(threads, { "holds", "held", "hold_taken", "confirms", "booked", "soldout" }) .. "\n")
end
