"""What a state dir costs: the time to save the state at stop and to load it at start,
and the file's size, for a local cloud holding N queue messages, N table items and N log
events.

An endpoint (in this process, on a free loopback port) with a state dir gets N of each
through boto3 (batched), then stops: the stop writes the state file (timed). A second
endpoint on the same dir loads it (timed: unpickling and putting moto's backends in
place), and the bench checks the counts came back.

Usage: python bench/bench_state_dir.py [--items 2000]
Prints the save and load times, the file size and the machine's core count.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from localcloud.endpoint import Endpoint  # noqa: E402

REGION = "eu-west-1"


def _client(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        aws_access_key_id="bench", aws_secret_access_key="bench")


def fill(url: str, items: int) -> None:
    sqs, ddb, logs = (_client(url, s) for s in ("sqs", "dynamodb", "logs"))
    queue = sqs.create_queue(QueueName="bench")["QueueUrl"]
    ddb.create_table(TableName="bench", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    logs.create_log_group(logGroupName="bench")
    logs.create_log_stream(logGroupName="bench", logStreamName="s")
    now = int(time.time() * 1000)
    for start in range(0, items, 10):
        sqs.send_message_batch(QueueUrl=queue, Entries=[
            {"Id": str(i), "MessageBody": f"message {i}"} for i in range(start, start + 10)])
    for start in range(0, items, 25):
        ddb.batch_write_item(RequestItems={"bench": [
            {"PutRequest": {"Item": {"k": {"S": str(i)}, "v": {"S": "x" * 100}}}}
            for i in range(start, start + 25)]})
    for start in range(0, items, 1000):
        logs.put_log_events(logGroupName="bench", logStreamName="s", logEvents=[
            {"timestamp": now + i, "message": f"event {i}"}
            for i in range(start, min(items, start + 1000))])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="bench-state-"))

    first = Endpoint(port=0, state_dir=state_dir).start()
    fill(first.url, args.items)
    started = time.perf_counter()
    first.stop()
    save_s = time.perf_counter() - started
    assert first.state_file is not None
    size = first.state_file.stat().st_size

    second = Endpoint(port=0, state_dir=state_dir)
    started = time.perf_counter()
    second.load_state()
    load_s = time.perf_counter() - started
    second.start()
    items = _client(second.url, "dynamodb").scan(TableName="bench", Select="COUNT")["Count"]
    second.stop()

    print(f"cores: {os.cpu_count()}; {args.items} queue messages, table items and log events")
    print(f"save at stop: {save_s * 1000:.0f} ms; load at start: {load_s * 1000:.0f} ms; "
          f"state file: {size / 1e6:.1f} MB; items back: {items}")


if __name__ == "__main__":
    main()
