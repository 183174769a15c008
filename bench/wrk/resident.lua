-- What the wrk scripts share (bench/wrk/flow.lua, contested.lua, api_book.lua): forms, cookies, redirects, the
-- FLOWS line.
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
