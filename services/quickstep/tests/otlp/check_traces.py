#!/usr/bin/env python3
"""The trace test: `quickstep run` exports to a real OTLP receiver (Jaeger v2), and the spans
it stored have the right parents and attributes.

Usage: check_traces.py QUICKSTEP_BINARY JAEGER_BINARY

One execution of a machine with a Pass, an HTTP Task, a Lambda Task and a Succeed state runs
with TRACEPARENT set (as a start record's `traceparent` header is for the worker). Checked:
- one execution span, a child of TRACEPARENT's span in the same trace, service quickstep-run;
- one span per state, each a child of the execution span, with state.name and state.type;
- one task span per Task state, a child of that state's span, with task.resource;
- the HTTP and Lambda servers saw a traceparent of the same trace whose parent is the task span.
Exits 0 and prints '1 passed, 0 failed' when all hold.
"""

import http.server
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


class Downstream(http.server.BaseHTTPRequestHandler):
    seen = []  # (path, traceparent)

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        Downstream.seen.append((self.path, self.headers.get("traceparent")))
        reply = body if self.path.startswith("/2015-03-31/") else b'{"hello": "world"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


def main():
    quickstep, jaeger = sys.argv[1], sys.argv[2]
    ports = {
        "JAEGER_OTLP_HTTP_PORT": free_port(),
        "JAEGER_QUERY_HTTP_PORT": free_port(),
        "JAEGER_QUERY_GRPC_PORT": free_port(),
    }
    env = dict(os.environ, **{k: str(v) for k, v in ports.items()})
    receiver = subprocess.Popen(
        [jaeger, "--config", os.path.join(HERE, "jaeger.yaml")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    query = f"http://127.0.0.1:{ports['JAEGER_QUERY_HTTP_PORT']}"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Downstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    downstream = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                get_json(f"{query}/api/services")
                break
            except OSError:
                if receiver.poll() is not None or time.time() > deadline:
                    sys.exit("jaeger did not start: " + receiver.stderr.read().decode()[-2000:])
                time.sleep(0.2)

        trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
        definition = {
            "StartAt": "Prepare",
            "States": {
                "Prepare": {"Type": "Pass", "Result": {"name": "Ada"}, "Next": "CallApi"},
                "CallApi": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::http:invoke",
                    "Parameters": {"ApiEndpoint": f"{downstream}/hello", "Method": "GET"},
                    "ResultPath": "$.api",
                    "Next": "Greet",
                },
                "Greet": {
                    "Type": "Task",
                    "Resource": "arn:aws:lambda:us-east-1:111111111111:function:greet",
                    "Next": "Done",
                },
                "Done": {"Type": "Succeed"},
            },
        }
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "traced.asl.json")
            with open(path, "w") as f:
                json.dump(definition, f)
            run = subprocess.run(
                [quickstep, "run", path],
                env=dict(
                    os.environ,
                    TRACEPARENT=f"00-{trace_id}-{parent_id}-01",
                    QUICKSTEP_OTLP_ENDPOINT=f"http://127.0.0.1:{ports['JAEGER_OTLP_HTTP_PORT']}",
                    QUICKSTEP_LAMBDA_ENDPOINT=downstream,
                ),
                capture_output=True,
                text=True,
                timeout=60,
            )
        outcome = json.loads(run.stdout.strip().splitlines()[-1])
        assert run.returncode == 0 and outcome["status"] == "SUCCEEDED", (run.stdout, run.stderr)

        # The exporter flushed before `run` exited; the receiver stores asynchronously.
        deadline = time.time() + 30
        while True:
            try:
                data = get_json(f"{query}/api/traces/{trace_id}")["data"]
            except OSError:
                data = []
            spans = data[0]["spans"] if data else []
            if len(spans) >= 7 or time.time() > deadline:
                break
            time.sleep(0.3)
        check(data, spans, trace_id, parent_id)
        print("traces: 1 passed, 0 failed")
    finally:
        server.shutdown()
        receiver.terminate()
        try:
            receiver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            receiver.kill()


def check(data, spans, trace_id, parent_id):
    assert data, f"the receiver has no trace {trace_id}"
    processes = data[0]["processes"]

    def tags(span):
        return {t["key"]: t["value"] for t in span.get("tags", [])}

    def parent(span):
        refs = [r for r in span.get("references", []) if r["refType"] == "CHILD_OF"]
        assert len(refs) == 1, f"{span['operationName']}: references {span.get('references')}"
        assert refs[0]["traceID"] == trace_id, refs
        return refs[0]["spanID"]

    by_kind = {}
    for span in spans:
        assert span["traceID"] == trace_id
        service = processes[span["processID"]]["serviceName"]
        assert service == "quickstep-run", service
        kind = ("task" if "task.resource" in tags(span)
                else "state" if "state.type" in tags(span)
                else "execution" if "execution.arn" in tags(span) else "other")
        by_kind.setdefault(kind, []).append(span)
    summary = {k: [s["operationName"] for s in v] for k, v in by_kind.items()}
    assert sorted(by_kind) == ["execution", "state", "task"], summary

    [execution] = by_kind["execution"]
    assert parent(execution) == parent_id, "the execution span continues TRACEPARENT"
    t = tags(execution)
    assert execution["operationName"] == "traced", execution["operationName"]
    assert t["state_machine.name"] == "traced" and t["execution.status"] == "SUCCEEDED", t

    states = {tags(s)["state.name"]: s for s in by_kind["state"]}
    assert sorted(states) == ["CallApi", "Done", "Greet", "Prepare"], summary
    types = {name: tags(s)["state.type"] for name, s in states.items()}
    assert types == {"Prepare": "Pass", "CallApi": "Task", "Greet": "Task", "Done": "Succeed"}, types
    for name, span in states.items():
        assert parent(span) == execution["spanID"], f"state {name} is a child of the execution"
        assert span["operationName"] == name

    tasks = {tags(s)["state.name"]: s for s in by_kind["task"]}
    assert sorted(tasks) == ["CallApi", "Greet"], summary
    assert tags(tasks["CallApi"])["task.resource"] == "arn:aws:states:::http:invoke"
    assert tags(tasks["Greet"])["task.resource"].endswith(":function:greet")
    for name, span in tasks.items():
        assert parent(span) == states[name]["spanID"], f"task {name} is a child of its state"

    seen = dict(Downstream.seen)
    lambda_path = "/2015-03-31/functions/greet/invocations"
    for path, task in (("/hello", "CallApi"), (lambda_path, "Greet")):
        header = seen.get(path)
        assert header, f"{path} saw no traceparent: {Downstream.seen}"
        version, trace, span, flags = header.split("-")
        assert (version, trace, flags) == ("00", trace_id, "01"), header
        assert span == tasks[task]["spanID"], f"{path}: the callee's parent is the task span"
    print(f"trace {trace_id}: {summary}; downstream traceparents: {sorted(seen.values())}")


if __name__ == "__main__":
    main()
