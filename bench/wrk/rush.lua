-- The slot-release rush for wrk (bench/nginx_rush.py, part `nginx` of `make bench`): residents of one city after
-- the month's slots, through nginx. Each connection (one per wrk thread: the Lua state is per thread) is one
-- resident after another, each with a new cookie jar:
--   top page -> month calendar (the release month) -> a day the calendar shows bookable -> hold (POST) on a random
--   free time ("just taken" 409: the next free time of the same page; none left: back to the calendar) -> hold
--   form -> confirmation (POST) -> the next resident.
-- A resident gives up after TRIES day pages or HOLD_TRIES holds without one. The calendar showing no bookable day is "sold out".
-- Each thread stops (wrk.thread:stop()) after its share of the residents and leaves a file done-<thread> in the
-- marker directory: bench/nginx_rush.py stops wrk (SIGINT) once every thread has left one, and times the rush.
--
--   wrk -t100 -c100 -d120s -s bench/wrk/rush.lua -H "Host: bench1.localhost" https://127.0.0.1:PORT/ -- \
--       application 2027-01 5000 100 /tmp/markers R
--
-- Arguments: the purpose's code, the release month (YYYY-MM), the residents in all, the number of threads, the
-- marker directory, and a run tag (one letter: a person is their name's kana and date of birth, and may hold one
-- future booking per purpose, so no two runs share a person).
-- done() prints one line for bench/wrk_run.py: FLOWS residents=... booked=... soldout=... gave_up=... holds=...
-- held=... hold_taken=... confirms=... p50_us=... p95_us=... p99_us=... max_us=... fail.<step>.<status>=...

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local resident = dofile(here .. "resident.lua")

local TRIES = 3 -- day pages a resident looks at before giving up
-- Holds a resident tries before giving up: under the app's per-session limit (hold_session, 10 in 10 minutes), which
-- answers 429 to a browser that keeps trying; a person gives up sooner.
local HOLD_TRIES = 8

local threads = {}
setup = resident.thread_setup(threads)

local purpose, month, calendar_path, day_prefix, markers, tag
local share = 0 -- residents this thread runs
local nthreads = 1
local started = 0 -- residents this thread has started
local step = "top"
local cookies, form, free, days = {}, {}, {}, {}
local tries = 0
local hold_tries = 0
local day_path, next_path = nil, nil
local finished = false
counts = {
  residents = 0, booked = 0, soldout = 0, gave_up = 0,
  holds = 0, held = 0, hold_taken = 0, confirms = 0,
}
failures = {}

function init(args)
  purpose, month = args[1] or "application", args[2] or ""
  calendar_path = "/book/" .. purpose .. "/?month=" .. month
  day_prefix = "/book/" .. purpose .. "/"
  local total = tonumber(args[3]) or 1
  nthreads = tonumber(args[4]) or 1
  share = math.floor(total / nthreads) + ((id < total % nthreads) and 1 or 0)
  markers = args[5]
  tag = args[6] or "R"
  math.randomseed(os.time() * 1000 + id) -- every thread's Lua state starts with the same seed otherwise
  if share == 0 then
    finished = true
  end
end

local function finish_resident(outcome)
  counts.residents = counts.residents + 1
  counts[outcome] = counts[outcome] + 1
  step = "top"
  if counts.residents >= share and not finished then
    finished = true
    if markers and markers ~= "" then
      local marker = io.open(markers .. "/done-" .. id, "w")
      if marker then
        marker:close()
      end
    end
    wrk.thread:stop()
  end
end

local function fail(status)
  local key = "fail." .. step .. "." .. tostring(status)
  failures[key] = (failures[key] or 0) + 1
  finish_resident("gave_up")
end

-- A browser's POST names its origin and (Referrer-Policy same-origin) the page it came from; over https Django's
-- CSRF check refuses a POST without them.
local function origin(headers, page)
  local site = "https://" .. (wrk.headers["Host"] or "localhost")
  headers["Origin"] = site
  headers["Referer"] = site .. page
end

local function another_day()
  -- No free time left on this day: back to the calendar, until the resident has tried TRIES days.
  tries = tries + 1
  if tries >= TRIES then
    return finish_resident("gave_up")
  end
  step = "calendar"
end

function request()
  local headers = { ["Accept-Language"] = "ja" }
  if step == "top" then
    if not finished then
      started = started + 1
    end
    cookies, form, free, days, tries, hold_tries = {}, {}, {}, {}, 0, 0
    return wrk.format("GET", "/", headers)
  end
  headers["Cookie"] = resident.cookie_header(cookies)
  if step == "calendar" then
    return wrk.format("GET", calendar_path, headers)
  elseif step == "day" then
    return wrk.format("GET", day_path, headers)
  elseif step == "hold" then
    origin(headers, day_path)
    return resident.post(day_path, headers, resident.hold_fields(form))
  elseif step == "form" then
    return wrk.format("GET", next_path, headers)
  end
  -- confirm: one person per resident of the whole run (k = thread + threads * the thread's resident, from 0),
  -- 336 dates of birth a year from 1920
  local k = id + nthreads * (started - 1)
  origin(headers, next_path)
  local email = "rush" .. id .. "-" .. started .. "@example.jp"
  local fields = resident.confirm_fields(form, "ラッシュ " .. tag, resident.birth_date(1920, k), email)
  return resident.post(next_path, headers, fields)
end

function response(status, headers, body)
  if finished and step == "top" then
    return -- the request wrk sends after this thread's stop: not a resident
  end
  resident.keep_cookies(cookies, headers)
  if step == "top" then
    if status ~= 200 then
      return fail(status)
    end
    step = "calendar"
  elseif step == "calendar" then
    if status ~= 200 then
      return fail(status)
    end
    days = {}
    for day in body:gmatch('href="' .. day_prefix:gsub("%-", "%%-") .. '(%d%d%d%d%-%d%d%-%d%d)/"') do
      table.insert(days, day)
    end
    if #days == 0 then
      return finish_resident("soldout")
    end
    day_path = day_prefix .. days[math.random(#days)] .. "/"
    step = "day"
  elseif step == "day" then
    if status ~= 200 then
      return fail(status)
    end
    free = resident.free_slots(body)
    form.csrf = resident.hidden(body, "csrfmiddlewaretoken")
    form.slot = resident.take_free(free)
    if form.slot == nil then
      return another_day()
    end
    step = "hold"
  elseif step == "hold" then
    counts.holds = counts.holds + 1
    hold_tries = hold_tries + 1
    local target = resident.redirected(status, headers, "/book/hold/")
    if target then
      counts.held = counts.held + 1
      next_path = target
      step = "form"
    elseif status == 409 then
      counts.hold_taken = counts.hold_taken + 1
      if hold_tries >= HOLD_TRIES then
        return finish_resident("gave_up")
      end
      form.slot = resident.take_free(free)
      if form.slot == nil then
        return another_day()
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
      return finish_resident("booked")
    end
    return fail(status)
  end
end

function done(summary, latency, requests)
  local line = resident.flows_line(threads, {
    "residents", "booked", "soldout", "gave_up", "holds", "held", "hold_taken", "confirms",
  })
  io.write(line .. resident.latency_fields(latency) .. "\n")
end
