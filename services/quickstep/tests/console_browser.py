#!/usr/bin/env python3
"""The web console in a real browser: headless Chromium (Debian `chromium`) driven by
Playwright for Python, against `quickstep dev`.

Starts `quickstep dev --address 127.0.0.1:0` (with `--brokers $QUICKSTEP_TEST_BROKERS` when
set) from the repository root, creates a state machine whose small orders fail (Choice → Fail),
runs one failing and one succeeding execution through boto3, then checks in the browser: the
executions list, filtering it by status, the failed execution's page (error banner, graph nodes
coloured by what each state did, event rows that expand to JSON, the event filter), and a state
machine page's start form (sync, result shown) and AWS CLI command. axe-core (vendored under
tests/console/) must report no serious or critical violation on any page. Screenshots go to
$QUICKSTEP_ARTIFACTS (default: a temporary directory, printed).

Usage: console_browser.py   (env: QUICKSTEP_BIN, default target/debug/quickstep)
Prints 'console: N passed' and exits 0 when all holds.
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

import boto3
import botocore.config
from playwright.sync_api import sync_playwright, expect

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
AXE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "console", "axe.min.js")
CHROMIUM = os.environ.get("QUICKSTEP_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ACCOUNT = "arn:aws:states:local:000000000000:"
# A task that fails at once (no such connection), is retried once, then caught.
CAUGHT = {
    "StartAt": "Call",
    "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                 "Parameters": {"ApiEndpoint": "http://127.0.0.1:9/x", "Method": "GET",
                                "Authentication": {"ConnectionArn": "arn:aws:events:local:000000000000:connection/none/1"}},
                 "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}], "Next": "Done"},
        "Recover": {"Type": "Pass", "End": True},
        "Done": {"Type": "Succeed"},
    },
}
DEFINITION = {
    "StartAt": "Check",
    "States": {
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.amount", "NumericGreaterThan": 100, "Next": "Approve"}], "Default": "Reject"},
        "Approve": {"Type": "Pass", "Result": "approved", "ResultPath": "$.decision", "Next": "Done"},
        "Done": {"Type": "Succeed"},
        "Reject": {"Type": "Fail", "Error": "Order.Rejected", "Cause": "amount too small"},
    },
}


def lines_of(stream):
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


def no_serious_violations(page, where):
    page.add_script_tag(path=AXE)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{where}: axe found " + json.dumps(
        [{"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"][:3]]} for v in bad], indent=1)


def run(endpoint, console, artifacts):
    run_id = str(int(time.time() * 1000))[-8:]
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="local",
                       aws_access_key_id="dev", aws_secret_access_key="dev",
                       config=botocore.config.Config(inject_host_prefix=False, retries={"max_attempts": 1}))
    machine_name = "console-orders-" + run_id
    machine = ACCOUNT + "stateMachine:" + machine_name
    sfn.create_state_machine(name=machine_name, definition=json.dumps(DEFINITION),
                             roleArn="arn:aws:iam::000000000000:role/r", type="EXPRESS")
    failed = sfn.start_sync_execution(stateMachineArn=machine, name="console-failed-1", input='{"amount": 5}')
    assert failed["status"] == "FAILED", failed
    ok = sfn.start_sync_execution(stateMachineArn=machine, name="console-ok-1", input='{"amount": 500}')
    assert ok["status"] == "SUCCEEDED", ok
    deadline = time.monotonic() + 30
    while True:
        listed = sfn.list_executions(stateMachineArn=machine)["executions"]
        if {e["name"] for e in listed} >= {"console-failed-1", "console-ok-1"} and all(e["status"] != "RUNNING" for e in listed):
            break
        assert time.monotonic() < deadline, f"the store never showed both executions: {listed}"
        time.sleep(0.2)
    caught_machine = ACCOUNT + "stateMachine:console-caught-" + run_id
    sfn.create_state_machine(name="console-caught-" + run_id, definition=json.dumps(CAUGHT),
                             roleArn="arn:aws:iam::000000000000:role/r", type="EXPRESS")
    caught = sfn.start_sync_execution(stateMachineArn=caught_machine, input="{}")
    assert caught["status"] == "SUCCEEDED", caught
    history = sfn.get_execution_history(executionArn=failed["executionArn"])["events"]
    passed = 0

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        # The list: newest first, both executions, then filtered to FAILED.
        page.goto(console)
        rows = page.locator("#executions tbody tr")
        expect(rows.filter(has_text="console-failed-1")).to_have_count(1)
        expect(rows.filter(has_text="console-ok-1")).to_have_count(1)
        names = rows.locator("td:first-child").all_inner_texts()
        assert names.index("console-ok-1") < names.index("console-failed-1"), f"newest first: {names}"
        page.screenshot(path=os.path.join(artifacts, "list.png"), full_page=True)
        no_serious_violations(page, "list")
        passed += 1

        # Live updates: a new execution appears without a reload; paused, the next does not.
        sfn.start_sync_execution(stateMachineArn=machine, name="console-live-1", input='{"amount": 1}')
        expect(rows.filter(has_text="console-live-1")).to_have_count(1, timeout=10_000)
        page.uncheck("#f-live")
        sfn.start_sync_execution(stateMachineArn=machine, name="console-paused-1", input='{"amount": 1}')
        paused_arn = ACCOUNT + "express:" + machine_name + ":console-paused-1"
        deadline = time.monotonic() + 10
        while True:  # in the store, so only the pause can keep it off the page
            try:
                sfn.describe_execution(executionArn=paused_arn)
                break
            except sfn.exceptions.ExecutionDoesNotExist:
                assert time.monotonic() < deadline, "the paused execution never reached the store"
                time.sleep(0.1)
        time.sleep(4.5)  # two live periods
        expect(rows.filter(has_text="console-paused-1")).to_have_count(0)
        page.click("form.filters button[type=submit]")  # a manual refresh shows it
        expect(rows.filter(has_text="console-paused-1")).to_have_count(1)
        passed += 1

        page.select_option("#f-status", "FAILED")
        page.select_option("#f-machine", machine)
        page.click("form.filters button[type=submit]")
        expect(rows.filter(has_text="console-ok-1")).to_have_count(0)
        expect(rows.filter(has_text="console-failed-1")).to_have_count(1)
        for status in rows.locator("td:nth-child(2)").all_inner_texts():
            assert status == "FAILED", status
        page.fill("#f-name", "console-ok-1")
        page.select_option("#f-status", "")
        page.click("form.filters button[type=submit]")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("console-ok-1")
        passed += 1

        # The failed execution's page.
        page.fill("#f-name", "")
        page.click("form.filters button[type=submit]")
        page.click("a:text-is('console-failed-1')")
        banner = page.locator("#error-banner")
        expect(banner).to_contain_text("Order.Rejected")
        expect(banner).to_contain_text("amount too small")
        nodes = page.locator(".graph g.node")
        expect(nodes).to_have_count(4)
        outcome = lambda state: page.locator(f'.graph g.node[data-state="{state}"]').get_attribute("data-outcome")
        assert outcome("Check") == "succeeded", outcome("Check")
        assert outcome("Reject") == "failed", outcome("Reject")
        assert outcome("Approve") == "not-reached", outcome("Approve")
        assert outcome("Done") == "not-reached", outcome("Done")
        events = page.locator("#events tr.event")
        expect(events).to_have_count(len(history))
        assert events.first.get_attribute("data-type") == "ExecutionStarted"
        assert events.last.get_attribute("data-type") == "ExecutionFailed"
        events.first.get_by_role("button").click()
        expect(page.locator("#events tr.json").first).to_be_visible()
        expect(page.locator("#events tr.json").first).to_contain_text("executionStartedEventDetails")
        page.fill("#event-filter", "FailStateEntered")
        expect(page.locator("#events tr.event:visible")).to_have_count(1)
        page.fill("#event-filter", "")
        expect(page.locator("#timeline .bar-row")).to_have_count(2)
        page.screenshot(path=os.path.join(artifacts, "execution.png"), full_page=True)
        no_serious_violations(page, "execution")
        passed += 1

        # A task retried and then caught: each state coloured by what it did.
        page.goto(console + "#/execution/" + caught["executionArn"])
        expect(page.locator(".graph g.node")).to_have_count(3)
        assert outcome("Call") == "caught", outcome("Call")
        assert outcome("Recover") == "succeeded", outcome("Recover")
        assert outcome("Done") == "not-reached", outcome("Done")
        expect(page.locator("#events tr.event[data-type=TaskScheduled]")).to_have_count(2)
        expect(page.locator("#error-banner")).to_have_count(0)
        page.screenshot(path=os.path.join(artifacts, "caught.png"), full_page=True)
        passed += 1

        # The state machine page: graph, validation, a sync start with its result, the CLI.
        page.goto(console + "#/state-machine/" + machine)
        expect(page.locator(".graph g.node")).to_have_count(4)
        expect(page.locator("#diagnostics")).to_contain_text("Valid")
        page.fill("#start-input", '{"amount": 250}')
        expect(page.locator("#cli-command")).to_contain_text("start-sync-execution")
        expect(page.locator("#cli-command")).to_contain_text('{"amount":250}')
        page.click("#start-form button[type=submit]")
        expect(page.locator("#start-result")).to_contain_text("SUCCEEDED")
        expect(page.locator("#start-result")).to_contain_text("approved")
        page.fill("#start-input", "{not json")
        page.click("#start-form button[type=submit]")
        expect(page.locator("#start-result")).to_contain_text("not JSON")
        page.screenshot(path=os.path.join(artifacts, "state-machine.png"), full_page=True)
        no_serious_violations(page, "state machine")
        passed += 1

        assert not errors, f"JavaScript errors: {errors}"
        browser.close()
    for arn in (machine, caught_machine):
        sfn.delete_state_machine(stateMachineArn=arn)
    return passed


def main():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.environ.get("QUICKSTEP_BIN", os.path.join(target, "debug", "quickstep"))
    artifacts = os.environ.get("QUICKSTEP_ARTIFACTS") or tempfile.mkdtemp(prefix="quickstep-console-")
    os.makedirs(artifacts, exist_ok=True)
    command = [binary, "dev", "--address", "127.0.0.1:0"]
    if os.environ.get("QUICKSTEP_TEST_BROKERS"):
        command += ["--brokers", os.environ["QUICKSTEP_TEST_BROKERS"]]
    dev = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=dict(os.environ, RUST_LOG="warn"))
    try:
        lines, seen = lines_of(dev.stdout), []
        endpoint = wait_for(lines, "Step Functions API", seen).split()[3]
        console = wait_for(lines, "Console", seen).split()[1]
        assert console == endpoint + "/console/", (console, endpoint)
        wait_for(lines, "Ctrl-C stops it", seen)
        passed = run(endpoint, console, artifacts)
    finally:
        dev.send_signal(signal.SIGTERM)
        try:
            dev.wait(timeout=40)
        except subprocess.TimeoutExpired:
            dev.kill()
    assert dev.returncode == 0, f"quickstep dev exited {dev.returncode}"
    print(f"console: screenshots in {artifacts}")
    print(f"console: {passed} passed")


if __name__ == "__main__":
    main()
