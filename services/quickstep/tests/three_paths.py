#!/usr/bin/env python3
"""One definition, three ways to start it, one result.

A state machine with a Lambda task, an HTTP task through a named connection (API key from
an environment variable) and a Kafka task runs through
  1. `quickstep run DEFINITION --config FILE --brokers B` (the command line),
  2. StartExecution on `quickstep dev` (a start record, run by the worker),
  3. StartSyncExecution on the same `quickstep dev` (run by the gateway; once with the AWS
     CLI, once with boto3 sending a `traceparent` header),
with the Lambda endpoint from QUICKSTEP_LAMBDA_ENDPOINT and the connection from the same
configuration file on every path. Checked: every path SUCCEEDS with the same output; the
Kafka task produced on every path; the Lambda function saw the sync caller's trace id.

Usage: three_paths.py [QUICKSTEP_BINARY]  (default: $QUICKSTEP_BIN or target/debug/quickstep)
Kafka: QUICKSTEP_TEST_BROKERS when set, else `quickstep dev`'s embedded Kafka.
Prints `three paths: 1 passed, 0 failed` and exits 0 when all hold.
"""

import http.server
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from confluent_kafka import Consumer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BINARY = (
    sys.argv[1]
    if len(sys.argv) > 1
    else os.environ.get(
        "QUICKSTEP_BIN",
        os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "quickstep"),
    )
)
API_KEY = "k-" + secrets.token_hex(8)
OUT_TOPIC = "three-paths-" + uuid.uuid4().hex[:8]
RUN_ID = uuid.uuid4().hex[:8]


class Downstream(http.server.BaseHTTPRequestHandler):
    """The Lambda Invoke API and an HTTP API behind an API key, on one port."""

    lambda_traceparents = []
    failures = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/2015-03-31/functions/greet/invocations":
            Downstream.lambda_traceparents.append(self.headers.get("traceparent"))
            event = json.loads(body or b"{}")
            self._json(200, {"greeting": "hello " + event.get("who", "?")})
        elif self.path.startswith("/orders"):
            if self.headers.get("x-api-key") != API_KEY:
                Downstream.failures.append("HTTP task without the connection's API key")
                self._json(401, {"message": "no key"})
                return
            order = json.loads(body or b"{}")
            self._json(200, {"order": order.get("id"), "priced": order.get("id", 0) * 10})
        else:
            self._json(404, {"message": self.path})

    def _json(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def definition(base):
    return {
        "StartAt": "Greet",
        "States": {
            "Greet": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:greet",
                "Parameters": {"who.$": "$.who"},
                "ResultPath": "$.greeting",
                "Next": "Price",
            },
            "Price": {
                "Type": "Task",
                "Resource": "arn:aws:states:::http:invoke",
                "Parameters": {
                    "ApiEndpoint": base + "/orders",
                    "Method": "POST",
                    "Authentication": {
                        "ConnectionArn": "arn:aws:events:us-east-1:111111111111:connection/orders-api/0c4f"
                    },
                    "RequestBody": {"id.$": "$.id"},
                },
                "ResultSelector": {"body.$": "$.ResponseBody", "status.$": "$.StatusCode"},
                "ResultPath": "$.price",
                "Next": "Announce",
            },
            "Announce": {
                "Type": "Task",
                "Resource": "arn:aws:states:::quickstep:kafka.produce",
                "Parameters": {"Topic": OUT_TOPIC, "Key.$": "$.who", "Value.$": "$.price.body"},
                "ResultSelector": {"topic.$": "$.Topic"},
                "ResultPath": "$.announced",
                "End": True,
            },
        },
    }


CONFIG = """
[tasks.connections.orders-api.auth]
type = "api_key"
header = "x-api-key"
value = { env = "THREE_PATHS_API_KEY" }
"""


def wait_for(lines, needle, seen, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = lines.readline()
        if not line:
            raise AssertionError("quickstep dev ended early: " + "".join(seen))
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r} in: " + "".join(seen))


def boto_client(endpoint):
    import boto3
    import botocore.config

    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="local",
        aws_access_key_id="dev",
        aws_secret_access_key="dev",
        config=botocore.config.Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )


def ensure_clients():
    try:
        import boto3  # noqa: F401

        subprocess.run(["aws", "--version"], check=True, capture_output=True)
    except Exception:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "awscli", "boto3"], check=True)


def result_of(brokers, execution_arn, timeout=60):
    consumer = Consumer(
        {"bootstrap.servers": brokers, "group.id": "three-paths-" + RUN_ID, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe(["quickstep.results"])
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error() or not message.value():
                continue
            result = json.loads(message.value())
            if result.get("executionArn") == execution_arn:
                return result
    finally:
        consumer.close()
    raise AssertionError(f"no result for {execution_arn} within {timeout} s")


def produced(brokers, timeout=30):
    consumer = Consumer(
        {"bootstrap.servers": brokers, "group.id": "three-paths-out-" + RUN_ID, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([OUT_TOPIC])
    values = []
    try:
        deadline = time.time() + timeout
        while time.time() < deadline and len(values) < 4:
            message = consumer.poll(1.0)
            if message is not None and not message.error() and message.value():
                values.append(json.loads(message.value()))
    finally:
        consumer.close()
    return values


def main():
    ensure_clients()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Downstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    work = tempfile.mkdtemp(prefix="quickstep-three-paths-")
    machines = os.path.join(work, "machines")
    os.mkdir(machines)
    path = os.path.join(machines, "three.asl.json")
    with open(path, "w") as f:
        json.dump(definition(base), f)
    config = os.path.join(work, "quickstep.toml")
    with open(config, "w") as f:
        f.write(CONFIG)
    env = dict(
        os.environ,
        QUICKSTEP_LAMBDA_ENDPOINT=base,
        THREE_PATHS_API_KEY=API_KEY,
        RUST_LOG="warn",
        AWS_ACCESS_KEY_ID="dev",
        AWS_SECRET_ACCESS_KEY="dev",
        AWS_DEFAULT_REGION="local",
        AWS_DISABLE_HOST_PREFIX_INJECTION="true",
        AWS_PAGER="",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    args = [BINARY, "dev", "--address", "127.0.0.1:0", "--examples", machines, "--config", config]
    if os.environ.get("QUICKSTEP_TEST_BROKERS"):
        args += ["--brokers", os.environ["QUICKSTEP_TEST_BROKERS"]]
    dev = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        seen = []
        endpoint = re.search(r"http://\S+", wait_for(dev.stdout, "Step Functions API", seen)).group(0)
        brokers = wait_for(dev.stdout, "Kafka", seen).split()[1]
        wait_for(dev.stdout, "Ctrl-C stops it", seen)
        assert any("State machine       three" in line for line in seen), "".join(seen)
        arn = "arn:aws:states:local:000000000000:stateMachine:three"
        execution_input = {"who": "ada", "id": 7}
        expected = dict(
            execution_input,
            greeting={"greeting": "hello ada"},
            price={"body": {"order": 7, "priced": 70}, "status": 200},
            announced={"topic": OUT_TOPIC},
        )

        # 3a. StartSyncExecution with the AWS CLI.
        cli = subprocess.run(
            ["aws", "stepfunctions", "start-sync-execution", "--endpoint-url", endpoint,
             "--state-machine-arn", arn, "--input", json.dumps(execution_input), "--output", "json"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        answer = json.loads(cli.stdout)
        assert answer["status"] == "SUCCEEDED", answer
        assert json.loads(answer["output"]) == expected, answer["output"]

        # 3b. StartSyncExecution with boto3, continuing the caller's trace.
        sfn = boto_client(endpoint)
        trace_id = secrets.token_hex(16)
        caller = f"00-{trace_id}-{secrets.token_hex(8)}-01"

        def add_traceparent(request, **_):
            request.headers["traceparent"] = caller

        sfn.meta.events.register("before-sign.states.StartSyncExecution", add_traceparent)
        sfn.meta.events.register("before-sign.sfn.StartSyncExecution", add_traceparent)
        before = len(Downstream.lambda_traceparents)
        sync = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps(execution_input))
        assert sync["status"] == "SUCCEEDED", sync
        assert json.loads(sync["output"]) == expected, sync["output"]
        seen_by_lambda = Downstream.lambda_traceparents[before:]
        assert seen_by_lambda and all(
            t and t.split("-")[1] == trace_id and t != caller for t in seen_by_lambda
        ), (caller, seen_by_lambda)

        # 2. StartExecution: a start record, run by the worker.
        started = sfn.start_execution(stateMachineArn=arn, name="three-" + RUN_ID, input=json.dumps(execution_input))
        result = result_of(brokers, started["executionArn"])
        assert result["status"] == "SUCCEEDED", result
        assert json.loads(result["output"]) == expected, result["output"]

        # 1. quickstep run, with the same configuration and Kafka.
        run = subprocess.run(
            [BINARY, "run", path, "--config", config, "--brokers", brokers, "--input", json.dumps(execution_input)],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        outcome = json.loads(run.stdout.strip().splitlines()[-1])
        assert outcome == {"status": "SUCCEEDED", "output": expected}, outcome

        # The Kafka task produced on every path (4 executions).
        values = produced(brokers)
        assert len(values) == 4 and all(v == {"order": 7, "priced": 70} for v in values), values
        assert not Downstream.failures, Downstream.failures
    finally:
        dev.terminate()
        try:
            dev.wait(timeout=30)
        except subprocess.TimeoutExpired:
            dev.kill()
        server.shutdown()


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # the closing line CI reads, then a non-zero exit
        import traceback

        traceback.print_exc()
        print("three paths: 0 passed, 1 failed")
        sys.exit(1)
    print("three paths: 1 passed, 0 failed")
