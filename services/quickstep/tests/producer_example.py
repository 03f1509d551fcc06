#!/usr/bin/env python3
"""The Kafka producer example (examples/producer.py), run for real against `quickstep dev`.

Starts `quickstep dev --brokers $QUICKSTEP_TEST_BROKERS` (without the variable: dev's embedded
Kafka) from the repository root, so the example state machines are registered; checks that its
banner prints the kcat lines that start an execution and read the results; runs the producer,
which writes one start record for the `order` machine with examples/order.input.json and waits
for its result on quickstep.results; checks the result (SUCCEEDED, the machine's output, the
name and idempotency key it was given); stops dev with SIGTERM.

Usage: producer_example.py   (env: QUICKSTEP_BIN, default target/debug/quickstep;
                              QUICKSTEP_TEST_BROKERS; needs `pip install confluent-kafka`)
Prints 'producer: 1 passed, 0 failed' and exits 0 when all holds; exits 1 otherwise.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PRODUCER = os.path.join(ROOT, "examples", "producer.py")
# What the order machine makes of examples/order.input.json ({"id": 42, "amount": 250}).
EXPECTED_OUTPUT = {"id": 42, "amount": 250, "tag": "order-42", "class": "big"}


def lines_of(stream):
    """The lines of a child's stream, as they come, on a queue (None at the end)."""
    lines = queue.Queue()

    def pump():
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def wait_for(lines, marker, seen, limit=120):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return line
    raise AssertionError(f"quickstep dev printed no line with {marker!r}; it printed:\n" + "\n".join(seen))


def check(dev_lines, brokers_wanted):
    banner = []
    wait_for(dev_lines, "Ctrl-C stops it", banner)
    kafka = next(line for line in banner if line.strip().startswith("Kafka "))
    brokers = kafka.split()[1]
    if brokers_wanted:
        assert brokers == brokers_wanted, kafka
    assert any(line.strip().startswith("State machine       order ") for line in banner), banner
    produce = f"kcat -b {brokers} -P -t quickstep.start -H quickstep-state-machine=order examples/order.input.json"
    consume = f"kcat -b {brokers} -C -t quickstep.results"
    assert any(line.strip() == produce for line in banner), f"no line {produce!r} in:\n" + "\n".join(banner)
    assert any(line.strip().startswith(consume) for line in banner), f"no line {consume!r}"

    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, PRODUCER, "--brokers", brokers, "--timeout", "60"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    print(f"producer: exit {run.returncode} after {time.monotonic() - started:.1f} s; {run.stderr.strip()}")
    assert run.returncode == 0, f"producer exited {run.returncode}:\n{run.stdout}\n{run.stderr}"
    result = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"producer: result {json.dumps(result)}")
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == EXPECTED_OUTPUT, f"output {result['output']}, expected {EXPECTED_OUTPUT}"
    name, key = result["name"], result["idempotencyKey"]
    assert key.startswith("order-") and name == key, result  # the producer's defaults
    assert result["executionArn"].endswith(f":express:order:{name}"), result
    assert result["stateMachineArn"].endswith(":stateMachine:order"), result
    assert result["source"]["topic"] == "quickstep.start", result
    assert result["startDate"] <= result["stopDate"], result


def main():
    quickstep = os.environ.get("QUICKSTEP_BIN") or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "quickstep")
    brokers = os.environ.get("QUICKSTEP_TEST_BROKERS")
    try:
        import confluent_kafka  # noqa: F401  (the producer's one dependency)
    except ImportError:
        sys.exit("producer: confluent-kafka is required (pip install confluent-kafka)")

    command = [quickstep, "dev", "--address", "127.0.0.1:0"]
    if brokers:
        command += ["--brokers", brokers]
    log = tempfile.TemporaryFile("w+")
    try:
        dev = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, RUST_LOG="warn", NO_COLOR="1"),
                               stdout=subprocess.PIPE, stderr=log, text=True)
    except OSError as error:
        print(f"producer: cannot start {quickstep} (QUICKSTEP_BIN): {error}")
        print("producer: 0 passed, 1 failed")
        sys.exit(1)
    dev_lines = lines_of(dev.stdout)
    failure = None
    try:
        check(dev_lines, brokers)
    except (AssertionError, KeyError, ValueError, subprocess.TimeoutExpired, StopIteration) as error:
        failure = error
    finally:
        if dev.poll() is None:
            dev.send_signal(signal.SIGTERM)
        try:
            status = dev.wait(timeout=30)
        except subprocess.TimeoutExpired:
            dev.kill()
            status = dev.wait()
    if failure is None:
        rest = []
        try:
            while (line := dev_lines.get(timeout=5)) is not None:
                rest.append(line)
        except queue.Empty:
            pass
        if status != 0 or "quickstep dev stopped." not in rest:
            failure = AssertionError(f"quickstep dev did not stop cleanly on SIGTERM: exit {status}, {rest}")
    if failure is not None:
        log.seek(0)
        print(f"producer: FAILED: {type(failure).__name__}: {failure}")
        print(f"--- quickstep dev's log (tail):\n{log.read()[-4000:]}")
        print("producer: 0 passed, 1 failed")
        sys.exit(1)
    print("producer: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
