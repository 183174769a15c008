-- Booking POSTs through the REST API on contested slots, for wrk (bench/wrk_api.py, issue 13 item 6).
-- Each request books one person on a random slot of the day that this thread has not seen full yet, with its own
-- Idempotency-Key; a "full" answer (409) drops that slot, and once every slot is dropped the thread asks the day's
-- slots again from the start (another thread's cancellation cannot free one here, but the list is short).
-- bench/wrk_api.py stops wrk (SIGINT) once every seat of the day is booked.
--
--   wrk -t200 -c200 -d30s -s bench/wrk/api_book.lua -H "Host: ageo.localhost" -H "Authorization: Bearer mdg_..." \
--       -H "Content-Type: application/json" http://127.0.0.1:PORT/api/v1/reservations/ -- application slots.txt ア
--
-- Arguments: the purpose's code, a file of the day's slot ids (one a line), a run tag (one katakana letter a run: a
-- person is their name, kana and date of birth, so no two runs share one).
-- done() prints one line: FLOWS posts=... booked=... full=... fail.<status>=...

-- The shared helpers, from this script's own directory (wrk loads the script by the path it was given).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local resident = dofile(here .. "resident.lua")

local threads = {}
setup = resident.thread_setup(threads)

local purpose, tag, tag_hex
local all_slots = {}
local open = {}
local current = nil
local person = 0
counts = { posts = 0, booked = 0, full = 0 }
failures = {}
first_failure = nil

function init(args)
  purpose = args[1]
  for line in io.lines(args[2]) do
    if line ~= "" then
      table.insert(all_slots, line)
    end
  end
  tag = args[3] or "ア"
  tag_hex = tag:gsub(".", function(c) return string.format("%02x", c:byte()) end)
  math.randomseed(os.time() * 1000 + id)
end

local function pick()
  if #open == 0 then
    for _, slot in ipairs(all_slots) do
      table.insert(open, slot)
    end
  end
  local index = math.random(#open)
  return index, open[index]
end

-- A person is their kana and date of birth (one future booking each per purpose): the kana spells the request's
-- number, so no two requests of a run, nor of two runs (the tag), are the same person.
local digit_kana = { "ア", "イ", "ウ", "エ", "オ", "カ", "キ", "ク", "ケ", "コ" }

local function kana_of(n)
  local text = ""
  for d in tostring(n):gmatch("%d") do
    text = text .. digit_kana[tonumber(d) + 1]
  end
  return text
end

function request()
  person = person + 1
  local index, slot = pick()
  current = index
  local k = 100000 * id + person
  local body = string.format(
    '{"slot": %s, "purpose": "%s", "persons": [{"name": "API %s%d", "kana": "エーピーアイ %s%s", "birth_date": "%04d-%02d-%02d"}], '
      .. '"email": "api%d-%d@example.jp", "phone": "090-1234-5678"}',
    slot, purpose, tag, k, tag, kana_of(k), 1940 + (k % 60), 1 + (k % 12), 1 + (math.floor(k / 12) % 28), id, person
  )
  -- wrk.format uses this table instead of wrk.headers (the -H headers: Host, Authorization, Content-Type).
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  -- ASCII only in a header: the run's katakana tag as hex
  headers["Idempotency-Key"] = string.format("bench-%s-%d-%d", tag_hex, id, person)
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  counts.posts = counts.posts + 1
  if status == 201 then
    counts.booked = counts.booked + 1
  elseif status == 409 then
    counts.full = counts.full + 1
    if current then
      table.remove(open, current)
    end
  else
    local key = "fail." .. tostring(status)
    failures[key] = (failures[key] or 0) + 1
    if first_failure == nil then
      first_failure = (body or ""):sub(1, 300):gsub("%s+", " ")
    end
  end
  current = nil
end

function done(summary, latency, requests)
  io.write(resident.flows_line(threads, { "posts", "booked", "full" }) .. "\n")
  for _, thread in ipairs(threads) do
    local body = thread:get("first_failure")
    if body then
      io.write("FIRST_FAILURE " .. body .. "\n")
      break
    end
  end
end
