-- What the wrk scripts share (bench/wrk/flow.lua, contested.lua, rush.lua, browse.lua, api_book.lua): the threads'
-- ids, forms, cookies, redirects, the resident pages' free times, hold and confirmation bodies, the FLOWS line.
-- Loaded by each script with dofile from its own directory; a table of functions, no state of its own (each
-- script keeps its resident's cookie jar and passes it in).

local M = {}

function M.encode(text)
  return (tostring(text):gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

function M.form_body(fields)
  local parts = {}
  for _, pair in ipairs(fields) do
    table.insert(parts, M.encode(pair[1]) .. "=" .. M.encode(pair[2]))
  end
  return table.concat(parts, "&")
end

function M.cookie_header(jar)
  local parts = {}
  for name, value in pairs(jar) do
    table.insert(parts, name .. "=" .. value)
  end
  return table.concat(parts, "; ")
end

function M.keep_cookies(jar, headers)
  for name, value in pairs(headers) do
    if name:lower() == "set-cookie" then
      -- wrk keeps one value per header name; Django sends one cookie per header
      local cookie, content = value:match("^%s*([^=;%s]+)=([^;]*)")
      if cookie then
        jar[cookie] = content
      end
    end
  end
end

function M.hidden(body, name)
  return body:match('name="' .. name .. '" value="([^"]*)"') or ""
end

function M.location(headers)
  for name, value in pairs(headers) do
    if name:lower() == "location" then
      return (value:gsub("^https?://[^/]+", ""))
    end
  end
  return nil
end

-- The main state's setup(thread) for wrk: each thread gets its `id` (0, 1, ...) and is kept in `threads` for done().
function M.thread_setup(threads)
  return function(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
  end
end

-- A form POST: its Content-Type set on `headers`.
function M.post(path, headers, fields)
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  return wrk.format("POST", path, headers, M.form_body(fields))
end

-- The free times of a day page: its radio inputs that are not disabled, as slot ids.
function M.free_slots(body)
  local free = {}
  for slot, rest in body:gmatch('<input type="radio" name="slot" id="slot%-(%d+)" value="%d+"([^>]*)>') do
    if not rest:match("^%s*disabled") then
      table.insert(free, slot)
    end
  end
  return free
end

-- One of `free` at random, taken out of it; nil when none is left.
function M.take_free(free)
  if #free == 0 then
    return nil
  end
  return table.remove(free, math.random(#free))
end

-- The hold (POST on the day page) of form.slot for one person.
function M.hold_fields(form)
  return { { "csrfmiddlewaretoken", form.csrf }, { "slot", form.slot }, { "persons", "1" } }
end

-- The hold form's hidden fields the confirmation sends back.
function M.read_form(form, body)
  form.csrf = M.hidden(body, "csrfmiddlewaretoken")
  form.submission_key = M.hidden(body, "submission_key")
end

-- The k-th date of birth from `first_year`, 336 a year (28 days of 12 months): a person is their name's kana and
-- date of birth, so distinct k under the same name are distinct people.
function M.birth_date(first_year, k)
  return { tostring(first_year + math.floor(k / 336)), tostring(1 + math.floor(k / 28) % 12), tostring(1 + k % 28) }
end

-- The confirmation (POST on the hold form) of one person: `birth` is { year, month, day }, `extra` more fields.
function M.confirm_fields(form, name, birth, email, extra)
  local fields = {
    { "csrfmiddlewaretoken", form.csrf },
    { "p1-name", name },
    { "p1-kana", "" },
    { "p1-birth_date_0", "western" },
  }
  for _, pair in ipairs(extra or {}) do
    table.insert(fields, pair)
  end
  table.insert(fields, { "p1-birth_date_1", birth[1] })
  table.insert(fields, { "p1-birth_date_2", birth[2] })
  table.insert(fields, { "p1-birth_date_3", birth[3] })
  table.insert(fields, { "email", email })
  table.insert(fields, { "phone", "090-1234-5678" })
  table.insert(fields, { "submission_key", form.submission_key })
  return fields
end

-- The redirect's target when the answer is a 302 to a path with `part` in it, else nil.
function M.redirected(status, headers, part)
  local target = M.location(headers)
  if status == 302 and target and target:find(part, 1, true) then
    return target
  end
  return nil
end

-- wrk's latency histogram (microseconds) as FLOWS fields: --latency prints no p95.
function M.latency_fields(latency)
  return string.format(" p50_us=%d p95_us=%d p99_us=%d max_us=%d", latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max)
end

-- The line a script's done() prints for bench/wrk_run.py: "FLOWS k=v ...", each thread's `counts` summed in the
-- order of `keys`, then each thread's `failures` summed.
function M.flows_line(threads, keys)
  local total, fails = {}, {}
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get("counts") or {}) do
      total[key] = (total[key] or 0) + count
    end
    for key, count in pairs(thread:get("failures") or {}) do
      fails[key] = (fails[key] or 0) + count
    end
  end
  local line = "FLOWS"
  for _, key in ipairs(keys) do
    line = line .. " " .. key .. "=" .. (total[key] or 0)
  end
  for key, count in pairs(fails) do
    line = line .. " " .. key .. "=" .. count
  end
  return line
end

return M
