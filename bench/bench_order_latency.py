"""Order latency: POST /orders -> its Order.Updated in the global bus's log, delivery delay 0.

Target (issue 4 §5b): p50 <= 100 ms, p95 <= 250 ms on this 2-core machine. The end time
is the log event's ingestion time (when the event was written to the global bus's log
group), so the polling interval does not inflate the figures. Orders are sent one at a
time, as a user would. Figures are printed, not asserted.

    .venv/bin/python bench/bench_order_latency.py [--orders 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from typing import Any

import boto3
from _localup import LocalUpProcess

GLOBAL_LOG = "/aws/events/backbone/global-bus"
BUS_ACCOUNT_ROLE = "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole"


def logs_client(endpoint: str) -> Any:
    sts = boto3.client("sts", region_name="eu-west-1", endpoint_url=endpoint,
                       aws_access_key_id="bench", aws_secret_access_key="bench")
    creds = sts.assume_role(RoleArn=BUS_ACCOUNT_ROLE, RoleSessionName="bench")["Credentials"]
    return boto3.client("logs", region_name="eu-west-1", endpoint_url=endpoint,
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


def order_updated_at(logs: Any, order_id: str, since_ms: int) -> int | None:
    """Ingestion time (ms) of the order's Order.Updated in the global log, if there yet."""
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=GLOBAL_LOG, startTime=since_ms - 2000)
    for page in pages:
        for item in page["events"]:
            if order_id in item["message"]:
                event = json.loads(item["message"])
                if event["detail-type"] == "Order.Updated":
                    return int(item["ingestionTime"])
    return None


def one_order(api: str, logs: Any, timeout: float = 10.0) -> float:
    posted_ms = time.time() * 1000
    request = urllib.request.Request(f"{api}/orders", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        order_id = json.loads(response.read())["orderId"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logged = order_updated_at(logs, order_id, int(posted_ms))
        if logged is not None:
            return logged - posted_ms
        time.sleep(0.02)
    raise SystemExit(f"order {order_id}: no Order.Updated in the global log after {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    cloud = LocalUpProcess("--delivery-delay", "0")
    try:
        logs = logs_client(cloud.aws)
        for _ in range(args.warmup):
            one_order(cloud.api, logs)
        latencies = sorted(one_order(cloud.api, logs) for _ in range(args.orders))
    finally:
        cloud.stop()
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * len(latencies)) - 1)]
    print(f"POST /orders -> Order.Updated in the global log, {len(latencies)} orders, delay 0:")
    print(f"  p50 {p50:.0f} ms (target <= 100), p95 {p95:.0f} ms (target <= 250), "
          f"min {latencies[0]:.0f} ms, max {latencies[-1]:.0f} ms")


if __name__ == "__main__":
    main()
