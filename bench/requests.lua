-- wrk script: each thread sends the requests of its share of a file, one per line:
--   METHOD<TAB>PATH<TAB>BEARER TOKEN, cookie:NAME=VALUE or -<TAB>JSON BODY (or -)
-- and starts over when its share runs out.  done() prints the figures as one JSON line.
local lines, idx = {}, 0
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  local n = 0
  for line in io.lines(path) do
    if n % nthreads == id then
      local method, p, token, body = line:match("^(%S+)\t(%S+)\t(%S+)\t(.*)$")
      local headers = {["Content-Type"] = "application/json"}
      if token:sub(1, 7) == "cookie:" then
        headers["Cookie"] = token:sub(8)
        -- Flask-Login's session protection ties a session to the browser that signed in.
        headers["User-Agent"] = "unionflow-bench"
      elseif token ~= "-" then
        headers["Authorization"] = "Bearer " .. token
      end
      if body == "-" then body = nil end
      table.insert(lines, wrk.format(method, p, headers, body))
    end
    n = n + 1
  end
  if #lines == 0 then  -- fewer lines than threads: every thread sends them all
    for line in io.lines(path) do
      local method, p, token, body = line:match("^(%S+)\t(%S+)\t(%S+)\t(.*)$")
      local headers = {["Content-Type"] = "application/json"}
      if token ~= "-" and token:sub(1, 7) ~= "cookie:" then
        headers["Authorization"] = "Bearer " .. token
      end
      if body == "-" then body = nil end
      table.insert(lines, wrk.format(method, p, headers, body))
    end
  end
  statuses = {}
end

function request()
  idx = idx % #lines + 1
  return lines[idx]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local codes = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do codes[tostring(k)] = (codes[tostring(k)] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(codes) do table.insert(parts, string.format('"%s": %d', k, v)) end
  io.write(string.format(
    'WRKJSON {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
    '"max_ms": %.2f, "socket_errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ", ")))
end
