#!/usr/bin/env python3
"""Drives a running gateway with the real AWS CLI (PyPI `awscli`) and boto3.

Usage: aws_clients.py ENDPOINT [SIGNED_ENDPOINT]

ENDPOINT is an unauthenticated gateway with the example `order` state machine registered
(`quickstep dev`). SIGNED_ENDPOINT, when given, is a gateway that requires SigV4 with the
access key AKIDQUICKSTEPTEST / quickstep-test-secret and starts `order` at most once per
second (`--start-rate order:1`). Installs awscli and boto3 when missing.
Prints one line `STARTED <executionArn>` per StartExecution whose result the caller should
find on the results topic, and `OK` last when every check passed. The read APIs
(ListExecutions, DescribeExecution, GetExecutionHistory, DescribeStateMachineForExecution) are
checked on ENDPOINT's execution store: sync executions at once, async ones within a second of
their result.
"""

import json
import os
import subprocess
import sys
import tempfile
import time


def ensure_clients():
    try:
        import boto3  # noqa: F401

        subprocess.run(["aws", "--version"], check=True, capture_output=True)
    except Exception:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "awscli", "boto3"], check=True
        )


ensure_clients()
import boto3  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402

ENDPOINT = sys.argv[1]
SIGNED = sys.argv[2] if len(sys.argv) > 2 else None
ENV = dict(
    os.environ,
    AWS_ACCESS_KEY_ID="dev",
    AWS_SECRET_ACCESS_KEY="dev",
    AWS_DEFAULT_REGION="local",
    AWS_DISABLE_HOST_PREFIX_INJECTION="true",
    AWS_PAGER="",
    AWS_CONFIG_FILE="/dev/null",
    AWS_SHARED_CREDENTIALS_FILE="/dev/null",
)
ACCOUNT_ARN = "arn:aws:states:local:000000000000:stateMachine:"
# Execution names unique to this run: on a real broker the results topic keeps earlier runs'
# results, and the execution store reads it from the beginning.
RUN = os.urandom(4).hex()
PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.r", "End": True}}}
SUCCEED = {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}


def cli(*args, expect_error=None):
    """Runs `aws stepfunctions ARGS --endpoint-url ENDPOINT`; returns parsed JSON output."""
    done = subprocess.run(
        ["aws", "stepfunctions", *args, "--endpoint-url", ENDPOINT, "--output", "json"],
        env=ENV,
        capture_output=True,
        text=True,
    )
    if expect_error:
        assert done.returncode != 0, f"{args} should fail with {expect_error}: {done.stdout}"
        assert f"({expect_error})" in done.stderr, f"{args}: expected {expect_error}, got {done.stderr}"
        return None
    assert done.returncode == 0, f"{args} failed: {done.stderr}"
    return json.loads(done.stdout) if done.stdout.strip() else {}


def check_cli():
    # A name of this run: dev's store reads the results topic from its beginning, so on a
    # broker that outlived an earlier run (QUICKSTEP_TEST_BROKERS) that run's executions of
    # the same machine would be listed beside this one's.
    name = f"cli-machine-{RUN}"
    arn = ACCOUNT_ARN + name
    cli("delete-state-machine", "--state-machine-arn", arn)
    created = cli(
        "create-state-machine", "--name", name, "--definition", json.dumps(PASS),
        "--role-arn", "arn:aws:iam::000000000000:role/quickstep", "--type", "EXPRESS",
        "--logging-configuration", '{"level": "ALL", "includeExecutionData": true}',
    )
    assert created["stateMachineArn"] == arn, created
    described = cli("describe-state-machine", "--state-machine-arn", arn)
    assert described["name"] == name and described["type"] == "EXPRESS", described
    assert json.loads(described["definition"]) == PASS
    assert described["loggingConfiguration"] == {"level": "ALL", "includeExecutionData": True}, described
    cli("update-state-machine", "--state-machine-arn", arn, "--definition", json.dumps(SUCCEED))
    assert json.loads(cli("describe-state-machine", "--state-machine-arn", arn)["definition"]) == SUCCEED
    cli("update-state-machine", "--state-machine-arn", arn, "--definition", json.dumps(PASS))
    listed = cli("list-state-machines")
    names = [m["name"] for m in listed["stateMachines"]]
    assert name in names and "order" in names, names

    ok = cli("validate-state-machine-definition", "--definition", json.dumps(PASS), "--type", "EXPRESS")
    assert ok == {"result": "OK", "diagnostics": [], "truncated": False}, ok
    bad = cli("validate-state-machine-definition", "--definition", '{"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}')
    assert bad["result"] == "FAIL" and bad["diagnostics"][0]["code"], bad

    # start-sync-execution: the CLI adds the `sync-` host prefix unless told not to (ENV).
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"id": 42, "amount": 250}, f)
    sync = cli(
        "start-sync-execution", "--state-machine-arn", ACCOUNT_ARN + "order",
        "--input", f"file://{f.name}", "--name", "cli-sync-1",
    )
    assert sync["status"] == "SUCCEEDED", sync
    assert json.loads(sync["output"]) == {"id": 42, "amount": 250, "tag": "order-42", "class": "big"}, sync
    assert sync["billingDetails"]["billedMemoryUsedInMB"] == 64, sync
    assert sync["executionArn"].endswith(":express:order:cli-sync-1"), sync
    failed = cli("start-sync-execution", "--state-machine-arn", arn, "--input", "[1]")
    assert failed["status"] == "FAILED" and failed["error"] == "States.Runtime", failed
    check_cli_reads(arn, sync, failed)

    started = cli(
        "start-execution", "--state-machine-arn", ACCOUNT_ARN + "order",
        "--input", f"file://{f.name}", "--name", f"cli-async-{RUN}",
    )
    assert started["executionArn"].endswith(f":express:order:cli-async-{RUN}"), started
    assert isinstance(started["startDate"], (int, float, str)), started  # epoch seconds on the wire
    print("STARTED " + started["executionArn"], flush=True)

    state = cli(
        "test-state", "--definition",
        json.dumps({"Type": "Pass", "Parameters": {"x.$": "$.a"}, "Next": "Later"}),
        "--input", '{"a": 5}', "--inspection-level", "DEBUG",
    )
    assert state["status"] == "SUCCEEDED" and json.loads(state["output"]) == {"x": 5}, state
    assert state["nextState"] == "Later", state
    assert json.loads(state["inspectionData"]["input"]) == {"a": 5}, state

    # TestState with mocks: a Map's mock is its result, its settings inspected; a Task's
    # mocked error against its Retry; a mock the API's output shape rejects.
    mapped = cli(
        "test-state", "--definition",
        json.dumps({"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ToleratedFailureCount": 1,
                    "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}, "End": True}),
        "--input", '{"items": [1, 2, 3]}', "--inspection-level", "DEBUG",
        "--mock", json.dumps({"result": json.dumps([4, 5, 6])}),
        "--state-configuration", '{"mapIterationFailureCount": 1}',
    )
    assert mapped["status"] == "SUCCEEDED" and json.loads(mapped["output"]) == [4, 5, 6], mapped
    assert mapped["inspectionData"]["maxConcurrency"] == 2, mapped
    assert mapped["inspectionData"]["toleratedFailureCount"] == 1, mapped
    retried = cli(
        "test-state", "--definition",
        json.dumps({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                    "Parameters": {"FunctionName": "f"},
                    "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 3, "IntervalSeconds": 2}]}),
        "--inspection-level", "TRACE", "--role-arn", "arn:aws:iam::000000000000:role/r",
        "--mock", json.dumps({"errorOutput": {"error": "Boom", "cause": "c"}}),
        "--state-configuration", '{"retrierRetryCount": 1}',
    )
    assert retried["status"] == "RETRIABLE", retried
    assert retried["inspectionData"]["errorDetails"] == {"retryBackoffIntervalSeconds": 4, "retryIndex": 0}, retried
    cli(
        "test-state", "--definition",
        json.dumps({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                    "Parameters": {"FunctionName": "f"}}),
        "--mock", json.dumps({"result": json.dumps({"StatusCode": "200"})}),
        expect_error="ValidationException",
    )

    # Errors, as AWS names them.
    cli("describe-state-machine", "--state-machine-arn", ACCOUNT_ARN + "missing", expect_error="StateMachineDoesNotExist")
    cli("start-sync-execution", "--state-machine-arn", ACCOUNT_ARN + "missing", expect_error="StateMachineDoesNotExist")
    cli("start-execution", "--state-machine-arn", ACCOUNT_ARN + "missing", expect_error="StateMachineDoesNotExist")
    cli("create-state-machine", "--name", "broken", "--definition", '{"StartAt": "X", "States": {}}',
        "--role-arn", "arn:aws:iam::000000000000:role/r", "--type", "EXPRESS", expect_error="InvalidDefinition")
    cli("create-state-machine", "--name", "standard", "--definition", json.dumps(PASS),
        "--role-arn", "arn:aws:iam::000000000000:role/r", "--type", "STANDARD", expect_error="StateMachineTypeNotSupported")
    cli("create-state-machine", "--name", name, "--definition", json.dumps(SUCCEED),
        "--role-arn", "arn:aws:iam::000000000000:role/other", "--type", "EXPRESS", expect_error="StateMachineAlreadyExists")
    cli("start-execution", "--state-machine-arn", arn, "--input", "{", expect_error="InvalidExecutionInput")
    cli("describe-state-machine", "--state-machine-arn", "not-an-arn", expect_error="InvalidArn")
    cli("start-execution", "--state-machine-arn", arn, "--name", "bad name", expect_error="InvalidName")
    cli("delete-state-machine", "--state-machine-arn", arn)
    cli("describe-state-machine", "--state-machine-arn", arn, expect_error="StateMachineDoesNotExist")


def eventually(what, probe, limit=10.0):
    """Polls `probe` until it returns a truthy value; the execution store reads Kafka."""
    deadline = time.monotonic() + limit
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {limit} s"
        time.sleep(0.05)


def check_cli_reads(machine_arn, sync, failed):
    """The read APIs through the CLI, on the sync executions just run."""
    order = ACCOUNT_ARN + "order"

    def listed(arn, *extra):
        return cli("list-executions", "--state-machine-arn", arn, *extra)["executions"]

    eventually("cli-sync-1 listed", lambda: [e for e in listed(order) if e["executionArn"] == sync["executionArn"]])
    mine = [e for e in listed(order) if e["executionArn"] == sync["executionArn"]][0]
    assert mine["status"] == "SUCCEEDED" and mine["name"] == "cli-sync-1", mine
    assert mine["stateMachineArn"] == order, mine
    eventually("the failed run listed", lambda: listed(machine_arn, "--status-filter", "FAILED"))
    failed_listed = listed(machine_arn, "--status-filter", "FAILED")
    assert [e["executionArn"] for e in failed_listed] == [failed["executionArn"]], (failed, failed_listed)
    assert listed(machine_arn, "--status-filter", "SUCCEEDED") == []

    described = cli("describe-execution", "--execution-arn", sync["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["input"]) == {"id": 42, "amount": 250}, described
    assert json.loads(described["output"]) == json.loads(sync["output"]), described
    failed_described = cli("describe-execution", "--execution-arn", failed["executionArn"])
    assert failed_described["error"] == "States.Runtime" and "output" not in failed_described, failed_described

    events = cli("get-execution-history", "--execution-arn", sync["executionArn"])["events"]
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded", events
    assert [e["id"] for e in events] == list(range(1, len(events) + 1)), events
    assert json.loads(events[0]["executionStartedEventDetails"]["input"]) == {"id": 42, "amount": 250}
    reverse = cli("get-execution-history", "--execution-arn", sync["executionArn"], "--reverse-order")["events"]
    assert [e["id"] for e in reverse] == [e["id"] for e in reversed(events)], reverse
    page = cli("get-execution-history", "--execution-arn", sync["executionArn"], "--max-results", "2", "--no-paginate")
    assert len(page["events"]) == 2 and page["nextToken"], page
    bare = cli("get-execution-history", "--execution-arn", sync["executionArn"], "--no-include-execution-data")["events"]
    assert "input" not in bare[0]["executionStartedEventDetails"], bare[0]

    definition = cli("describe-state-machine-for-execution", "--execution-arn", failed["executionArn"])
    assert json.loads(definition["definition"]) == PASS and definition["stateMachineArn"] == machine_arn, definition

    missing = sync["executionArn"] + "-missing"
    cli("describe-execution", "--execution-arn", missing, expect_error="ExecutionDoesNotExist")
    cli("get-execution-history", "--execution-arn", missing, expect_error="ExecutionDoesNotExist")
    cli("describe-execution", "--execution-arn", "arn:nope", expect_error="InvalidArn")
    cli("list-executions", "--state-machine-arn", order, "--status-filter", "DONE", expect_error="ValidationException")


def check_boto3_reads(sfn, started):
    """An async execution appears within a second of its result; the SDK's paginators work."""
    arn = started["executionArn"]
    seen = eventually(
        "the async execution's result in the store",
        lambda: next((e for e in sfn.list_executions(stateMachineArn=ACCOUNT_ARN + "boto-1")["executions"]
                      if e["executionArn"] == arn and e["status"] != "RUNNING"), None),
        limit=30,
    )
    lag = time.time() - seen["stopDate"].timestamp()
    print(f"async execution listed {lag:.3f} s after it stopped", file=sys.stderr)
    assert lag < 1.0, f"listed {lag:.3f} s after its result"
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"r": {"ok": True}}, described
    events = [e for p in sfn.get_paginator("get_execution_history").paginate(executionArn=arn, PaginationConfig={"PageSize": 2}) for e in p["events"]]
    assert [e["type"] for e in events][:1] == ["ExecutionStarted"] and events[-1]["type"] == "ExecutionSucceeded", events
    assert [e["id"] for e in events] == list(range(1, len(events) + 1)), events
    for i in range(3):
        sfn.start_sync_execution(stateMachineArn=ACCOUNT_ARN + "boto-2", name=f"boto-page-{i}", input="{}")
    names = eventually("three sync executions listed", lambda: (lambda n: n if len(n) == 3 else None)(
        [e["name"] for p in sfn.get_paginator("list_executions").paginate(stateMachineArn=ACCOUNT_ARN + "boto-2", PaginationConfig={"PageSize": 1}) for e in p["executions"]]))
    assert sorted(names) == ["boto-page-0", "boto-page-1", "boto-page-2"], names
    try:
        sfn.list_executions(stateMachineArn=ACCOUNT_ARN + "boto-2", nextToken="bogus")
        raise AssertionError("a forged page token was accepted")
    except sfn.exceptions.InvalidToken:
        pass
    try:
        sfn.describe_execution(executionArn=arn + "-nope")
        raise AssertionError("an unknown execution was described")
    except sfn.exceptions.ExecutionDoesNotExist:
        pass


def client(endpoint, key="dev", secret="dev", **config):
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="local",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1}, **config),
    )


def check_boto3():
    sfn = client(ENDPOINT, inject_host_prefix=False)
    names = [f"boto-{i}" for i in range(5)]
    for name in names:
        sfn.create_state_machine(name=name, definition=json.dumps(PASS), roleArn="arn:aws:iam::000000000000:role/r", type="EXPRESS")
    # Pagination by hand and with the SDK's paginator.
    seen, token = [], None
    while True:
        page = sfn.list_state_machines(maxResults=2, **({"nextToken": token} if token else {}))
        seen += [m["name"] for m in page["stateMachines"]]
        token = page.get("nextToken")
        if not token:
            break
    assert all(n in seen for n in names), seen
    assert len(seen) == len(set(seen)), seen
    paged = [m["name"] for p in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 3}) for m in p["stateMachines"]]
    assert paged == seen, (paged, seen)
    out = sfn.start_sync_execution(stateMachineArn=ACCOUNT_ARN + "boto-0", input='{"k": "v"}')
    assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"k": "v", "r": {"ok": True}}, out
    assert out["stopDate"] >= out["startDate"]
    started = sfn.start_execution(stateMachineArn=ACCOUNT_ARN + "boto-1", name=f"boto-async-{RUN}", input="{}")
    print("STARTED " + started["executionArn"], flush=True)
    check_boto3_reads(sfn, started)
    try:
        sfn.describe_state_machine(stateMachineArn=ACCOUNT_ARN + "nope")
        raise AssertionError("describe of an unknown state machine succeeded")
    except sfn.exceptions.StateMachineDoesNotExist:
        pass
    try:
        sfn.create_state_machine(name="bad", definition="{", roleArn="arn:aws:iam::000000000000:role/r", type="EXPRESS")
        raise AssertionError("an invalid definition was accepted")
    except sfn.exceptions.InvalidDefinition as error:
        assert "INVALID_JSON_DESCRIPTION" in str(error), error
    validation = sfn.validate_state_machine_definition(definition='{"StartAt": 1}', type="EXPRESS")
    assert validation["result"] == "FAIL", validation
    for name in names:
        sfn.delete_state_machine(stateMachineArn=ACCOUNT_ARN + name)


def check_signed():
    good = client(SIGNED, key="AKIDQUICKSTEPTEST", secret="quickstep-test-secret", inject_host_prefix=False)
    good.list_state_machines()
    good.validate_state_machine_definition(definition=json.dumps(PASS))
    for key, secret, expected in [
        ("AKIDQUICKSTEPTEST", "wrong-secret", "InvalidSignatureException"),
        ("AKIDUNKNOWN", "quickstep-test-secret", "UnrecognizedClientException"),
    ]:
        try:
            client(SIGNED, key=key, secret=secret, inject_host_prefix=False).list_state_machines()
            raise AssertionError(f"{key}/{secret} was accepted")
        except botocore.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] == expected, error.response
    # The CLI signs too.
    done = subprocess.run(
        ["aws", "stepfunctions", "list-state-machines", "--endpoint-url", SIGNED],
        env=dict(ENV, AWS_ACCESS_KEY_ID="AKIDQUICKSTEPTEST", AWS_SECRET_ACCESS_KEY="quickstep-test-secret"),
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    check_start_rate(good)


def check_start_rate(sfn):
    """Five starts in a row where one per second is allowed: the first runs (a fresh bucket),
    later ones get AWS's ThrottlingException (`__type`, HTTP 400, "Rate exceeded"), which the
    SDK would retry were retries not off (`client`)."""
    arn = ACCOUNT_ARN + "order"
    for _ in range(300):  # the gateway follows the registry topic: wait until it knows `order`
        try:
            sfn.describe_state_machine(stateMachineArn=arn)
            break
        except sfn.exceptions.StateMachineDoesNotExist:
            time.sleep(0.1)
    outcomes = []
    for _ in range(5):
        try:
            out = sfn.start_sync_execution(stateMachineArn=arn, input='{"id": 1, "amount": 5}')
            assert out["status"] == "SUCCEEDED", out
            outcomes.append("ran")
        except botocore.exceptions.ClientError as error:
            response = error.response
            assert response["Error"]["Code"] == "ThrottlingException", response
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
            assert response["Error"]["Message"].startswith("Rate exceeded"), response
            outcomes.append("throttled")
    assert outcomes[0] == "ran" and "throttled" in outcomes, outcomes


check_cli()
check_boto3()
if SIGNED:
    check_signed()
print("OK", flush=True)
