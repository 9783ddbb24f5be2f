-- wrk script of bench/load.py: GET the floor (bench/load_urls.py) or the progress API (system token)
-- for random members, or the stamp card page with random member sessions, check each answer, and print a JSON summary.
--
--   wrk -t2 -c16 -d30s -s bench/load.lua http://127.0.0.1:8105 -- floor <members>
--   wrk -t2 -c16 -d30s -s bench/load.lua http://127.0.0.1:8105 -- api <token> <members>
--   wrk -t2 -c16 -d30s -s bench/load.lua http://127.0.0.1:8105 -- page <file of session keys>
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local mode, token, members, sessions, expect
local CSRF_COOKIE = "benchLoadCsrfCookieOfTheBrowser1" -- a CSRF secret: 32 letters and digits
-- Globals, not locals: done() reads them from each thread with thread:get().
bad, first_bad = 0, nil

function init(args)
  mode = args[1]
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  if mode == "floor" then
    members, expect = tonumber(args[2]), '"member_id"'
  elseif mode == "api" then
    token, members, expect = args[2], tonumber(args[3]), '"courses"'
  else
    sessions, expect = {}, 'id="stamp-card"'
    for line in io.lines(args[2]) do
      if line ~= "" then table.insert(sessions, line) end
    end
  end
end

function request()
  if mode == "floor" then
    return wrk.format("GET", string.format("/bench/floor/M%07d", math.random(1, members)))
  elseif mode == "api" then
    local path = string.format("/api/v1/members/M%07d/progress", math.random(1, members))
    return wrk.format("GET", path, { ["Authorization"] = "Token " .. token })
  end
  -- A member's browser sends back the CSRF cookie its first page set (bench/load.py opened each card once).
  local cookie = "sessionid=" .. sessions[math.random(#sessions)] .. "; csrftoken=" .. CSRF_COOKIE
  return wrk.format("GET", "/stamps/", { ["Cookie"] = cookie })
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, expect, 1, true) then
    bad = bad + 1
    if first_bad == nil then first_bad = tostring(status) end
  end
end

function done(summary, latency, requests)
  local bad_total, first = 0, ""
  for _, thread in ipairs(threads) do
    bad_total = bad_total + (thread:get("bad") or 0)
    first = first ~= "" and first or (thread:get("first_bad") or "")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "bad": %d, "first_bad": "%s", ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), bad_total, first,
    e.connect, e.read, e.write, e.status, e.timeout))
end
