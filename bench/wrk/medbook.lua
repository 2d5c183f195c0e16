-- wrk script for bench/http_bench.py (issue 13). Arguments after `--`:
--   mode       get | post | mix | trivial
--   sessions   file of "doctor_id date period" lines: the bookable sessions (post, mix)
--   tokens     file of patient bearer tokens, line n = patient n (post, mix)
--   base       first line of the tokens file this run may use (0-based)
--   threads    wrk's thread count (each thread books for patients base + id + threads * k)
--   doctors    how many doctors (ids 1..doctors) the GET picks from
--   from, to   the GET's dates (YYYY-MM-DD)
--   get_share  the share of GETs in the mix (0.7)
--   path       the trivial endpoint's path
-- Every response's status is counted per thread; done() prints "STATUS code count" lines,
-- "POSTS n" (how many patients were used) and the latency percentiles in microseconds.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local function option(args, name, default)
   for _, arg in ipairs(args) do
      local key, value = arg:match("^([%w_]+)=(.*)$")
      if key == name then
         return value
      end
   end
   return default
end

local function lines(path)
   local result = {}
   for line in io.lines(path) do
      table.insert(result, line)
   end
   return result
end

local mode, sessions, tokens, doctors, from, to, get_share, path
local nthreads, next_patient, headers, last_patient

function init(args)
   mode = option(args, "mode", "get")
   doctors = tonumber(option(args, "doctors", "1"))
   from = option(args, "from", "")
   to = option(args, "to", "")
   get_share = tonumber(option(args, "get_share", "0.7"))
   path = option(args, "path", "/ping")
   nthreads = tonumber(option(args, "threads", "1"))
   statuses = {}
   posts = 0
   exhausted = 0
   math.randomseed(os.time() * 1000 + id * 7919)
   if mode == "post" or mode == "mix" then
      sessions = {}
      for _, line in ipairs(lines(option(args, "sessions", ""))) do
         local doctor, date, period = line:match("^(%d+) (%S+) (%S+)$")
         table.insert(sessions, {doctor, date, period})
      end
      tokens = lines(option(args, "tokens", ""))
      last_patient = #tokens
      next_patient = tonumber(option(args, "base", "0")) + id + 1 -- Lua lists start at 1
   end
end

local function get()
   local doctor = math.random(1, doctors)
   return wrk.format("GET", "/v1/doctors/" .. doctor .. "/sessions?from=" .. from .. "&to=" .. to)
end

local function post()
   local patient = next_patient
   next_patient = next_patient + nthreads
   if patient > last_patient then
      exhausted = exhausted + 1
      patient = last_patient -- reused: its refusals show as 409/422 in the counts
   end
   posts = posts + 1
   local s = sessions[math.random(1, #sessions)]
   local body = '{"doctor_id": ' .. s[1] .. ', "date": "' .. s[2] .. '", "period": "' .. s[3] .. '"}'
   return wrk.format("POST", "/v1/appointments", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. tokens[patient],
   }, body)
end

function request()
   if mode == "get" then
      return get()
   elseif mode == "post" then
      return post()
   elseif mode == "mix" then
      if math.random() < get_share then
         return get()
      end
      return post()
   end
   return wrk.format("GET", path)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local total = {}
   local used, short = 0, 0
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         total[status] = (total[status] or 0) + count
      end
      used = used + thread:get("posts")
      short = short + thread:get("exhausted")
   end
   for status, count in pairs(total) do
      io.write(string.format("STATUS %d %d\n", status, count))
   end
   io.write(string.format("POSTS %d\n", used))
   io.write(string.format("EXHAUSTED %d\n", short))
   for _, p in ipairs({50, 90, 99, 99.9}) do
      io.write(string.format("PERCENTILE %g %d\n", p, latency:percentile(p)))
   end
   io.write(string.format("MAXLATENCY %d\n", latency.max))
end
