-- wrk script for one Step Functions operation against a gateway without authentication:
--   OPERATION=StartExecution wrk -t2 -c32 -d10s -s loadtest/gateway/wrk.lua http://127.0.0.1:8080/
-- OPERATION is StartExecution (default) or StartSyncExecution; STATE_MACHINE_ARN and INPUT
-- default to the example order machine (`quickstep dev` registers it) and its input. Every
-- request has no name, so each starts a new execution. At the end one JSON line:
-- {"operation", "requests", "seconds", "requests_per_second", "p50_ms", "p90_ms", "p99_ms",
--  "max_ms", "errors"}, where errors counts socket errors, timeouts and HTTP statuses >= 400.
local operation = os.getenv("OPERATION") or "StartExecution"
local arn = os.getenv("STATE_MACHINE_ARN") or "arn:aws:states:local:000000000000:stateMachine:order"
local input = os.getenv("INPUT") or '{"id": 42, "amount": 250}'

local function quote(text)
  return '"' .. text:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end

wrk.method = "POST"
wrk.path = "/"
wrk.body = '{"stateMachineArn":' .. quote(arn) .. ',"input":' .. quote(input) .. '}'
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "AWSStepFunctions." .. operation

function done(summary, latency, requests)
  local errors = summary.errors
  local failed = errors.connect + errors.read + errors.write + errors.status + errors.timeout
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"operation":"%s","requests":%d,"seconds":%.2f,"requests_per_second":%.0f,' ..
    '"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,"errors":%d}\n',
    operation, summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, failed))
end
