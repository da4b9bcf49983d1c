"""Order latency: POST /orders -> its Order.Updated in the global bus's log, delivery delay 0.

Targets on a 2-core machine: p50 <= 25 ms, p95 <= 250 ms, so that the demo feels instant
apart from the simulated work; then throughput: ``--burst`` orders (300) POSTed by
``--concurrency`` (16) clients, until every one reads DELIVERED on GET /orders/{id}:
>= 75 orders/s. The end time is the log event's ingestion time (when the
event was written to the global bus's log group), so the polling interval does not
inflate the figures. Orders are sent one at a time, as a user would. Figures are
printed, not asserted.

    .venv/bin/python bench/bench_order_latency.py [--orders 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _localup import LocalUpProcess  # first: makes the repository importable

from infra_bootstrap import names
from infra_bootstrap.local.up import LogTail
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import load_stage

# The log may hold an event stamped just before the POST returned: look back this much.
CLOCK_SLACK_MS = 2000
# Between two reads of the oldest order not yet DELIVERED.
BURST_POLL_S = 0.02


def one_order(api: str, logs: Any, bus_account: str, timeout: float = 10.0) -> float:
    """POST one order; ms until its Order.Updated was ingested into the global log."""
    posted_ms = time.time() * 1000
    request = urllib.request.Request(f"{api}/orders", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        order_id = json.loads(response.read())["orderId"]
    tail = LogTail(logs, names.GLOBAL_BUS, bus_account, start_ms=int(posted_ms) - CLOCK_SLACK_MS)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for logged in tail.poll():
            if logged.detail_type == "Order.Updated" and order_id in logged.raw:
                return logged.ingestion_ms - posted_ms
        time.sleep(0.02)
    raise SystemExit(f"order {order_id}: no Order.Updated in the global log after {timeout} s")


def burst(api: str, orders: int, concurrency: int, timeout: float = 600.0) -> float:
    """POST ``orders`` from ``concurrency`` clients; seconds until all read DELIVERED.

    Then the oldest order not yet seen DELIVERED is read every ``BURST_POLL_S``; once it
    reads DELIVERED, the next ones are read ``concurrency`` at a time until one is not.
    Every order is read until it reads DELIVERED, and checking costs a few GETs per
    order: reading every waiting order each round (~17 GETs per order, each a DynamoDB
    read through the order API) made the benchmark measure its own load.
    """
    def post(_: int) -> str:
        request = urllib.request.Request(f"{api}/orders", method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(json.loads(response.read())["orderId"])

    def delivered(order_id: str) -> bool:
        with urllib.request.urlopen(f"{api}/orders/{order_id}", timeout=60) as response:
            return bool(json.loads(response.read()).get("status") == "DELIVERED")

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        waiting = list(pool.map(post, range(orders)))
        deadline = time.monotonic() + timeout
        while waiting:
            if time.monotonic() > deadline:
                raise SystemExit(f"{len(waiting)} orders not DELIVERED after {timeout} s")
            if not delivered(waiting[0]):
                time.sleep(BURST_POLL_S)
                continue
            waiting.pop(0)
            while waiting:  # the oldest is delivered: most after it likely are too
                batch = waiting[:concurrency]
                done = {o for o, ok in zip(batch, pool.map(delivered, batch), strict=True)
                        if ok}
                waiting = [o for o in waiting if o not in done]
                if len(done) < len(batch):
                    break
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (shared machine)",
          flush=True)
    cloud = LocalUpProcess("--delivery-delay", "0")
    try:
        # The bus account's logs client, the way every tool of the project reaches it.
        os.environ["AWS_ENDPOINT_URL"] = cloud.aws
        stage = load_stage("local")
        logs = AccountSessions(stage).client(stage.bus_account, "logs")
        for _ in range(args.warmup):
            one_order(cloud.api, logs, stage.bus_account)
        latencies = sorted(one_order(cloud.api, logs, stage.bus_account)
                           for _ in range(args.orders))
        burst_s = burst(cloud.api, args.burst, args.concurrency) if args.burst else 0.0
    finally:
        cloud.stop()
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * len(latencies)) - 1)]
    print(f"POST /orders -> Order.Updated in the global log, {len(latencies)} orders, delay 0:")
    print(f"  p50 {p50:.0f} ms (target <= 25), p95 {p95:.0f} ms (target <= 250), "
          f"min {latencies[0]:.0f} ms, max {latencies[-1]:.0f} ms")
    if args.burst:
        print(f"{args.burst} orders at concurrency {args.concurrency}, delay 0: all DELIVERED "
              f"after {burst_s:.1f} s -> {args.burst / burst_s:.1f} orders/s (target >= 75)")


if __name__ == "__main__":
    main()
