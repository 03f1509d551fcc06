#!/usr/bin/env python3
"""Fills corpus/{definition,path,intrinsic} with seeds.

Definitions come from the conformance corpus (`definition` fields of
shared/conformance/localstack/*.json), examples/ and loadtest/machines/; paths and
intrinsic calls are pulled out of those definitions (every `.$` value and *Path field),
plus the hand-written seeds in seeds/. Gateway requests are seeds/gateway.jsonl (one
valid request per operation and then some) encoded as fuzz_targets/gateway.rs reads them. Usage: python3 seed.py [SHARED_DIR]
"""
import glob
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
    "QUICKSTEP_SHARED", os.path.join(ROOT, "..", "shared"))
PATH_FIELDS = {"InputPath", "OutputPath", "ResultPath", "ItemsPath", "Variable",
               "TimestampPath", "SecondsPath", "ErrorPath", "CausePath",
               "MaxConcurrencyPath", "ToleratedFailureCountPath",
               "ToleratedFailurePercentagePath", "HeartbeatSecondsPath",
               "TimeoutSecondsPath"}


def write(target, text):
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    data = text.encode()
    with open(os.path.join(directory, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


# The order of `Operation::all()` (protocol.rs): byte 0 of a gateway input indexes it.
OPERATIONS = ["CreateStateMachine", "DescribeStateMachine", "UpdateStateMachine",
              "DeleteStateMachine", "ListStateMachines", "ValidateStateMachineDefinition",
              "StartExecution", "StartSyncExecution", "TestState", "SendTaskSuccess",
              "SendTaskFailure", "SendTaskHeartbeat", "ListExecutions", "DescribeExecution",
              "GetExecutionHistory", "DescribeStateMachineForExecution"]


def write_bytes(target, data):
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def gateway_seeds():
    with open(os.path.join(HERE, "seeds", "gateway.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            head = "".join(f"{k}: {v}\n" for k, v in row["headers"].items())
            data = bytes([OPERATIONS.index(row["operation"]), 0]) + head.encode() + b"\n\n"
            write_bytes("gateway", data + json.dumps(row["body"]).encode())


def walk(node, paths, calls):
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and (key.endswith(".$") or key in PATH_FIELDS
                                           or key.endswith("Path")):
                (calls if value.startswith("States.") else paths).add(value)
            walk(value, paths, calls)
    elif isinstance(node, list):
        for value in node:
            walk(value, paths, calls)


def main():
    definitions = []
    for file in sorted(glob.glob(os.path.join(SHARED, "conformance", "localstack", "*.json"))):
        with open(file) as f:
            case = json.load(f)
        definition = case.get("definition")
        if isinstance(definition, str):
            try:
                definition = json.loads(definition)
            except ValueError:
                write("definition", definition)
                continue
        if definition is not None:
            definitions.append(definition)
    for pattern in ("examples/*.asl.json", "loadtest/machines/*.asl.json"):
        for file in sorted(glob.glob(os.path.join(ROOT, pattern))):
            with open(file) as f:
                definitions.append(json.load(f))
    paths, calls = set(), set()
    for definition in definitions:
        write("definition", json.dumps(definition, separators=(",", ":")))
        walk(definition, paths, calls)
    for target, extra in (("path", paths), ("intrinsic", calls)):
        with open(os.path.join(HERE, "seeds", target + ".txt")) as f:
            extra |= {line.rstrip("\n") for line in f if line.strip()}
        for text in extra:
            write(target, text)
    gateway_seeds()
    for target in ("definition", "path", "intrinsic", "gateway"):
        count = len(os.listdir(os.path.join(HERE, "corpus", target)))
        print(f"corpus/{target}: {count} files")


main()
