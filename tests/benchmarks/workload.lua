-- The requests of one benchmark workload, and a count of every non-2xx answer.
--
-- Arguments (after wrk's --): the steps, each "METHOD PATH" or "METHOD PATH BODY".
-- Run with as many threads as connections: each connection is then alone in its
-- thread and goes through the steps in order, so a step may rely on the one
-- before it (DELETE what it just PUT). In a path or body, {c} is the
-- connection's number (1, 2, ...) and {n} a number unique to each request, so
-- every write stores a new value. A step is left only once its answer is in:
-- wrk also calls request() once before the run, to check it.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

local steps = {}
local answered = 0
local made = 0
local last = ""
-- Globals: done() reads them from each thread.
non_2xx = 0
example = ""

-- Sent with every request when set (a token's "Bearer ...").
local authorization = os.getenv("BENCH_AUTHORIZATION")

function init(args)
  if authorization then
    wrk.headers["Authorization"] = authorization
  end
  for i, step in ipairs(args) do
    local method, path, body = step:match("^(%S+) (%S+) ?(.*)$")
    steps[i] = {
      method = method,
      path = (path:gsub("{c}", id)),
      body = (body:gsub("{c}", id)),
    }
  end
end

function request()
  local step = steps[answered % #steps + 1]
  made = made + 1
  local n = tostring(made * 1000 + id)
  local path = (step.path:gsub("{n}", n))
  last = step.method .. " " .. path
  if step.body == "" then
    return wrk.format(step.method, path)
  end
  local headers = { ["Content-Type"] = "application/json", ["Authorization"] = authorization }
  return wrk.format(step.method, path, headers, (step.body:gsub("{n}", n)))
end

function response(status, headers, body)
  answered = answered + 1
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
    if example == "" then
      example = status .. " for " .. last
    end
  end
end

function done(summary, latency, requests)
  local bad, examples = 0, {}
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non_2xx")
    local seen = thread:get("example")
    if seen ~= "" then
      table.insert(examples, seen)
    end
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %.0f, "duration_us": %.0f, "p50_us": %.0f, '
      .. '"p99_us": %.0f, "non_2xx": %.0f, "socket_errors": %.0f, "examples": "%s"}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), bad,
    errors.connect + errors.read + errors.write + errors.timeout,
    table.concat(examples, "; ")
  ))
end
