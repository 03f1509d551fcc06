#!/usr/bin/env python3
"""Start one Quickstep execution from Kafka and wait for its result.

Produces one start record to the start topic (`quickstep.start`): key = the idempotency key;
headers `quickstep-state-machine`, `quickstep-idempotency-key`, `quickstep-execution-name` and
a fresh W3C `traceparent`; value = the execution input JSON. Then reads the results topic
(`quickstep.results`) until the result carrying that idempotency key arrives and prints it
(proto3 JSON of quickstep.v1.ExecutionResult) on stdout; progress goes to stderr.

    pip install confluent-kafka
    python3 examples/producer.py                  # the order machine, examples/order.input.json
    python3 examples/producer.py --state-machine order --input '{"id": 7, "amount": 5}'

Exit status: 0 SUCCEEDED; 1 FAILED or TIMED_OUT; 2 usage; 3 no result within --timeout
(a key already used within the idempotency window is a duplicate: it gets no second result).
"""

import argparse
import json
import os
import secrets
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))


def log(message):
    print(message, file=sys.stderr, flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", default=os.environ.get("QUICKSTEP_BROKERS", "127.0.0.1:9092"))
    parser.add_argument("--state-machine", default="order", help="name or ARN (default: order)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input", help="the execution input, JSON text")
    source.add_argument("--input-file", default=os.path.join(HERE, "order.input.json"))
    parser.add_argument("--key", help="idempotency key (default: a fresh one)")
    parser.add_argument("--name", help="execution name (default: the key)")
    parser.add_argument("--start-topic", default="quickstep.start")
    parser.add_argument("--results-topic", default="quickstep.results")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (default: 30)")
    args = parser.parse_args()
    if args.input is not None:
        args.value = args.input.encode()
    else:
        with open(args.input_file, "rb") as f:
            args.value = f.read()
    try:
        json.loads(args.value)
    except ValueError as error:
        parser.error(f"the input is not JSON: {error}")
    return args


def read_from_end(consumer, topic, deadline):
    """Assigns every partition of `topic` at its current end: only records produced from now
    on are read. The worker creates the topic; wait for it if no worker has run yet."""
    while True:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is None and metadata.partitions:
            break
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    ends = []
    for partition in sorted(metadata.partitions):
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        ends.append(TopicPartition(topic, partition, high))
    consumer.assign(ends)
    return True


def main():
    args = parse_args()
    key = args.key or f"{args.state_machine.rsplit(':', 1)[-1]}-{uuid.uuid4()}"
    name = args.name or key
    deadline = time.monotonic() + args.timeout

    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": f"producer-example-{uuid.uuid4()}",  # assign() only: nothing is committed
        "enable.auto.commit": False,
    })
    try:
        # Before producing, so the result cannot slip by.
        if not read_from_end(consumer, args.results_topic, deadline):
            log(f"no topic {args.results_topic} on {args.brokers}: is a quickstep worker running?")
            return 3

        producer = Producer({"bootstrap.servers": args.brokers, "enable.idempotence": True})
        delivered = []
        producer.produce(
            args.start_topic,
            key=key.encode(),
            value=args.value,
            headers=[
                ("quickstep-state-machine", args.state_machine.encode()),
                ("quickstep-idempotency-key", key.encode()),
                ("quickstep-execution-name", name.encode()),
                ("traceparent", f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01".encode()),
            ],
            on_delivery=lambda error, record: delivered.append((error, record)),
        )
        producer.flush(max(deadline - time.monotonic(), 1))
        error, record = delivered[0] if delivered else ("not acknowledged in time", None)
        if error is not None:
            log(f"the start record was not delivered: {error}")
            return 3
        log(f"produced {args.start_topic} [{record.partition()}] @ {record.offset()}: "
            f"state machine {args.state_machine}, key {key}, execution name {name}")

        while time.monotonic() < deadline:
            message = consumer.poll(min(1.0, max(deadline - time.monotonic(), 0.01)))
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            try:
                result = json.loads(message.value())
            except (TypeError, ValueError):
                continue
            if result.get("idempotencyKey") == key:
                print(message.value().decode(), flush=True)
                return 0 if result.get("status") == "SUCCEEDED" else 1
        log(f"no result for key {key} on {args.results_topic} within {args.timeout:g} s")
        return 3
    finally:
        consumer.close()


if __name__ == "__main__":
    sys.exit(main())
