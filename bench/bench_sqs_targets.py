"""Events delivered per second into an SQS target: our local endpoint vs stock moto.

Each run starts a fresh AWS endpoint process on a free loopback port and, in one
account, makes a bus `bench-bus`, a queue whose policy lets EventBridge send for the
rule, and a rule matching every event with that queue as its target. It then publishes
N events in batches of 10 (4 threads) and waits until the endpoint is idle, then checks
that the queue holds them all (`ApproximateNumberOfMessages`); then N more into the queue
that already holds N, so a queue depth that slows sends shows as a lower second rate.

- ours: `python -m localcloud`;
- stock moto: `moto_server` (the same calls; moto checks no queue policy).

Usage: python bench/bench_sqs_targets.py [--events 5000] [--moto-events 300]
Prints each rate, the machine's core count and the ratio. The target: >= 2,000 events/s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_routing import free_port, start  # noqa: E402

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account: plain keys act in it on both endpoints
BUS = "bench-bus"
QUEUE = "bench-target"
RULE = "to-queue"
THREADS = 4


# The secret of the endpoint's control routes (/_local/idle), handed to it by environment.
CONTROL_SECRET = os.urandom(16).hex()

def _client(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        aws_access_key_id="bench", aws_secret_access_key="bench")


def _setup(url: str) -> str:
    """The bus, the queue (policy admitting the rule) and the rule; the queue's URL."""
    events, sqs = _client(url, "events"), _client(url, "sqs")
    events.create_event_bus(Name=BUS)
    rule_arn = events.put_rule(Name=RULE, EventBusName=BUS,
                               EventPattern=json.dumps({"source": [{"prefix": ""}]}))["RuleArn"]
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    # EventBridge User Guide, "Amazon SQS permissions": events.amazonaws.com may send,
    # for this rule only.
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Sid": "EventBridgeSends", "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]})})
    events.put_targets(Rule=RULE, EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return str(queue_url)


def _depth(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url,
                                          AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _idle(url: str) -> bool:
    """The local endpoint's idle route: 200 once idle, 408 after waiting 5 s (a control
    route: the endpoint got the secret from this process's environment)."""
    request = urllib.request.Request(f"{url}/_local/idle?timeout=5",
                                     headers={"X-Localcloud-Secret": CONTROL_SECRET})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return bool(json.loads(answer.read())["idle"])
    except urllib.error.HTTPError as error:
        if error.code == 408:
            return False
        raise


def _phase(url: str, queue_url: str, events: int, already: int, idle: bool) -> float:
    """Publish ``events`` more; seconds until the queue holds ``already + events``."""
    clients = [_client(url, "events") for _ in range(THREADS)]
    sqs = _client(url, "sqs")
    detail = json.dumps({"data": {"orderId": "o-1", "total": 42}, "meta": {"correlationId": "c"}})
    batch = [{"EventBusName": BUS, "Source": "bench", "DetailType": "Bench.Event",
              "Detail": detail}] * 10

    def publish(index: int) -> int:
        return int(clients[index % THREADS].put_events(Entries=batch)["FailedEntryCount"])

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        failed = sum(pool.map(publish, range(events // 10)))
    if failed:
        raise SystemExit(f"{failed} entries failed to publish")
    # Counting the queue scans every message (ApproximateNumberOfMessages), which would
    # slow the deliveries it measures: wait until the endpoint is idle, then count once.
    # Stock moto delivers inside PutEvents, so it is idle when the last call returns.
    if idle:
        deadline = time.monotonic() + 600
        while not _idle(url):
            if time.monotonic() > deadline:
                raise SystemExit("the endpoint was not idle within 10 min")
    if _depth(sqs, queue_url) != already + events:
        raise SystemExit(f"the queue holds {_depth(sqs, queue_url)}, not {already + events}")
    return time.perf_counter() - started


def bench(name: str, command: list[str], events: int, port: int, idle: bool) -> float:
    process = start(command, port)
    try:
        url = f"http://127.0.0.1:{port}"
        queue_url = _setup(url)
        empty = _phase(url, queue_url, events, 0, idle)
        full = _phase(url, queue_url, events, events, idle)
    finally:
        process.terminate()
        process.wait(timeout=10)
    first, second = events / empty, events / full
    print(f"{name:<11} {events:>6} events into an empty queue: {first:8.1f} events/s; "
          f"{events:>6} more into a queue of {events}: {second:8.1f} events/s", flush=True)
    return min(first, second)


def main() -> None:
    os.environ["LOCALCLOUD_CONTROL_SECRET"] = CONTROL_SECRET  # inherited by the endpoint
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--moto-events", type=int, default=300)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (shared machine)",
          flush=True)
    ours_port, moto_port = free_port(), free_port()
    ours = bench("local cloud", [sys.executable, "-m", "localcloud", "--port", str(ours_port)],
                 args.events, ours_port, idle=True)
    moto = bench("stock moto", [sys.executable, "-m", "moto.server", "-p", str(moto_port)],
                 args.moto_events, moto_port, idle=False)
    print(f"ratio: {ours / moto:.1f}x stock moto (slower phase of each; target: "
          ">= 2000 events/s)")


if __name__ == "__main__":
    main()
