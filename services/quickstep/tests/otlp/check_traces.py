#!/usr/bin/env python3
"""The trace test: `quickstep run` exports to a real OTLP receiver (an OpenTelemetry Collector,
built by ./install-collector), and the spans it received have the right parents and attributes.

Usage: check_traces.py QUICKSTEP_BINARY COLLECTOR_BINARY

The Collector decodes the OTLP/HTTP protobuf that quickstep sends and its file exporter writes
what it decoded, as OTLP JSON, to a file this script reads. One execution of a machine with a
Pass, an HTTP Task, a Lambda Task and a Succeed state runs with TRACEPARENT set (as a start
record's `traceparent` header is for the worker). Checked:
- every span received is in TRACEPARENT's trace and from service quickstep-run;
- one execution span, a child of TRACEPARENT's span;
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


def post_empty_export(endpoint):
    """An empty ExportTraceServiceRequest (zero bytes of protobuf): 200 once the receiver is up."""
    request = urllib.request.Request(
        f"{endpoint}/v1/traces",
        data=b"",
        headers={"content-type": "application/x-protobuf"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


def attributes(pairs):
    """OTLP JSON attributes ([{key, value: AnyValue}]) as a dict of plain values."""
    out = {}
    for pair in pairs or []:
        value = pair.get("value", {})
        [(kind, v)] = value.items() if value else [("empty", None)]
        out[pair["key"]] = int(v) if kind == "intValue" else v
    return out


def read_spans(path):
    """Every span in the file exporter's output: OTLP JSON, one export request a line (a
    trailing partial line, not yet flushed whole, is left for the next read)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    spans = []
    for line in text.split("\n")[:-1]:
        if not line.strip():
            continue
        for resource_spans in json.loads(line).get("resourceSpans", []):
            resource = attributes(resource_spans.get("resource", {}).get("attributes"))
            for scope_spans in resource_spans.get("scopeSpans", []):
                for span in scope_spans.get("spans", []):
                    spans.append({
                        "traceId": span.get("traceId", ""),
                        "spanId": span.get("spanId", ""),
                        "parentSpanId": span.get("parentSpanId", ""),
                        "name": span.get("name", ""),
                        "attributes": attributes(span.get("attributes")),
                        "service": resource.get("service.name"),
                    })
    return spans


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
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    quickstep, collector = sys.argv[1], sys.argv[2]
    scratch = tempfile.TemporaryDirectory()
    spans_file = os.path.join(scratch.name, "spans.jsonl")
    otlp = f"http://127.0.0.1:{free_port()}"
    receiver_log = open(os.path.join(scratch.name, "collector.log"), "w+b")
    receiver = subprocess.Popen(
        [collector, "--config", "file:" + os.path.join(HERE, "collector.yaml")],
        env=dict(os.environ, OTLP_HTTP_PORT=otlp.rsplit(":", 1)[1], SPANS_FILE=spans_file),
        stdout=receiver_log,
        stderr=subprocess.STDOUT,
    )

    def receiver_output():
        receiver_log.flush()
        receiver_log.seek(0)
        return receiver_log.read().decode(errors="replace")[-3000:]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Downstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    downstream = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if post_empty_export(otlp) == 200:
                    break
            except OSError:
                pass
            if receiver.poll() is not None or time.time() > deadline:
                sys.exit("traces: FAILED: the collector did not start:\n" + receiver_output())
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
        path = os.path.join(scratch.name, "traced.asl.json")
        with open(path, "w") as f:
            json.dump(definition, f)
        run = subprocess.run(
            [quickstep, "run", path],
            env=dict(
                os.environ,
                TRACEPARENT=f"00-{trace_id}-{parent_id}-01",
                QUICKSTEP_OTLP_ENDPOINT=otlp,
                QUICKSTEP_LAMBDA_ENDPOINT=downstream,
            ),
            capture_output=True,
            text=True,
            timeout=60,
        )
        outcome = json.loads(run.stdout.strip().splitlines()[-1])
        assert run.returncode == 0 and outcome["status"] == "SUCCEEDED", (run.stdout, run.stderr)

        # The exporter flushed before `run` exited; the file exporter writes the file every
        # flush_interval (collector.yaml).
        deadline = time.time() + 30
        while True:
            spans = read_spans(spans_file)
            if len(spans) >= 7 or time.time() > deadline:
                break
            time.sleep(0.2)
        try:
            check(spans, trace_id, parent_id)
        except AssertionError:
            print(f"the collector's output:\n{receiver_output()}", file=sys.stderr)
            raise
        print("traces: 1 passed, 0 failed")
    finally:
        server.shutdown()
        receiver.terminate()
        try:
            receiver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            receiver.kill()
        receiver_log.close()
        scratch.cleanup()


def check(spans, trace_id, parent_id):
    assert spans, f"the collector received no spans (trace {trace_id})"

    def parent(span):
        assert span["parentSpanId"], f"{span['name']}: no parent span"
        return span["parentSpanId"]

    by_kind = {}
    for span in spans:
        assert span["traceId"] == trace_id, f"{span['name']}: trace {span['traceId']}"
        assert span["service"] == "quickstep-run", span["service"]
        a = span["attributes"]
        kind = ("task" if "task.resource" in a
                else "state" if "state.type" in a
                else "execution" if "execution.arn" in a else "other")
        by_kind.setdefault(kind, []).append(span)
    summary = {k: [s["name"] for s in v] for k, v in by_kind.items()}
    assert sorted(by_kind) == ["execution", "state", "task"], summary

    [execution] = by_kind["execution"]
    assert parent(execution) == parent_id, "the execution span continues TRACEPARENT"
    t = execution["attributes"]
    assert execution["name"] == "traced", execution["name"]
    assert t["state_machine.name"] == "traced" and t["execution.status"] == "SUCCEEDED", t

    states = {s["attributes"]["state.name"]: s for s in by_kind["state"]}
    assert sorted(states) == ["CallApi", "Done", "Greet", "Prepare"], summary
    assert len(by_kind["state"]) == len(states), f"one span per state: {summary}"
    types = {name: s["attributes"]["state.type"] for name, s in states.items()}
    assert types == {"Prepare": "Pass", "CallApi": "Task", "Greet": "Task", "Done": "Succeed"}, types
    for name, span in states.items():
        assert parent(span) == execution["spanId"], f"state {name} is a child of the execution"
        assert span["name"] == name

    tasks = {s["attributes"]["state.name"]: s for s in by_kind["task"]}
    assert sorted(tasks) == ["CallApi", "Greet"], summary
    assert len(by_kind["task"]) == len(tasks), f"one span per task call: {summary}"
    assert tasks["CallApi"]["attributes"]["task.resource"] == "arn:aws:states:::http:invoke"
    assert tasks["Greet"]["attributes"]["task.resource"].endswith(":function:greet")
    for name, span in tasks.items():
        assert parent(span) == states[name]["spanId"], f"task {name} is a child of its state"

    seen = dict(Downstream.seen)
    lambda_path = "/2015-03-31/functions/greet/invocations"
    for path, task in (("/hello", "CallApi"), (lambda_path, "Greet")):
        header = seen.get(path)
        assert header, f"{path} saw no traceparent: {Downstream.seen}"
        version, trace, span, flags = header.split("-")
        assert (version, trace, flags) == ("00", trace_id, "01"), header
        assert span == tasks[task]["spanId"], f"{path}: the callee's parent is the task span"
    print(f"trace {trace_id}: {summary}; downstream traceparents: {sorted(seen.values())}")


if __name__ == "__main__":
    main()
