"""Order latency: POST /orders -> its Order.Updated in the global bus's log, delivery delay 0.

Targets on a 2-core machine: p50 <= 25 ms, p95 <= 250 ms, so that the demo feels instant
apart from the simulated work; then throughput: ``--burst`` orders (300) POSTed by
``--concurrency`` (16) clients, after an untimed burst of ``--warmup-burst`` (48) that
brings the Lambda runtime to its warm workers, until the last one's Order.Updated is in
the global log (each is then checked to read DELIVERED on GET /orders/{id}): >= 75
orders/s. It also prints the CPU each part of ``local up`` used per order (Linux). The end
time is the log event's ingestion time (when the event was written to the global bus's
log group), so the polling interval does not inflate the figures. Orders are sent one at
a time, as a user would. Figures are printed, not asserted.

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
# Between two reads of the global bus's log during the burst.
BURST_POLL_S = 0.05


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


def burst(api: str, logs: Any, bus_account: str, orders: int, concurrency: int,
          timeout: float = 600.0) -> float:
    """POST ``orders`` from ``concurrency`` clients; seconds until the last one's
    Order.Updated was ingested into the global bus's log.

    The order service publishes Order.Updated only once the order is stored DELIVERED
    (``backbone.idempotency.claim``), so that log line is the moment the order reads
    DELIVERED, as in the one-at-a-time figure. Then, outside the timing, every order is
    read once with GET /orders/{id} and must say DELIVERED. An earlier version polled
    GET /orders/{id} until all read DELIVERED; that cost ~2 GETs per order, each a
    request to the order API and a DynamoDB read, ~14% of the burst's CPU, so the
    benchmark measured part of its own polling.
    """
    def post(_: int) -> str:
        request = urllib.request.Request(f"{api}/orders", method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(json.loads(response.read())["orderId"])

    def status(order_id: str) -> str:
        with urllib.request.urlopen(f"{api}/orders/{order_id}", timeout=60) as response:
            return str(json.loads(response.read()).get("status"))

    started_ms = time.time() * 1000
    tail = LogTail(logs, names.GLOBAL_BUS, bus_account, start_ms=int(started_ms) - CLOCK_SLACK_MS)
    updated: dict[str, int] = {}  # order id -> ingestion ms of its Order.Updated
    with ThreadPoolExecutor(concurrency) as pool:
        posted = list(pool.map(post, range(orders)))
        waiting = set(posted)
        deadline = time.monotonic() + timeout
        while waiting - updated.keys():
            if time.monotonic() > deadline:
                raise SystemExit(f"{len(waiting - updated.keys())} orders without "
                                 f"Order.Updated after {timeout} s")
            for logged in tail.poll():
                if logged.detail_type == "Order.Updated":
                    order_id = str(logged.event.get("detail", {}).get("data", {})
                                   .get("orderId"))
                    updated.setdefault(order_id, logged.ingestion_ms)
            time.sleep(BURST_POLL_S)
        undelivered = [o for o, s in zip(posted, pool.map(status, posted), strict=True)
                       if s != "DELIVERED"]
    if undelivered:
        raise SystemExit(f"{len(undelivered)} orders with an Order.Updated do not read "
                         f"DELIVERED, e.g. {undelivered[0]}")
    return (max(updated[o] for o in posted) - started_ms) / 1000


def print_cpu(used: dict[str, float], orders: int) -> None:
    """CPU per order of each part of ``local up`` over the burst (and its check), and the
    rate the machine's cores allow at that cost if they did nothing else."""
    total = sum(used.values())
    if not total:
        return  # no /proc: nothing measured
    cores = os.cpu_count() or 1
    parts = ", ".join(f"{role} {seconds * 1000 / orders:.1f}"
                      for role, seconds in sorted(used.items(), key=lambda kv: -kv[1]))
    print(f"  CPU per order (ms): {parts}; total {total * 1000 / orders:.1f} -> {cores} cores "
          f"allow at most {cores * orders / total:.0f} orders/s at this cost")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup-burst", type=int, default=48,
                        help="orders POSTed at --concurrency before the timed burst, untimed "
                             "(default 48)")
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
        if args.burst and args.warmup_burst:
            # A sustained rate is one on warm workers: the first burst makes the Lambda
            # runtime start its other workers (~0.7 s of CPU each here, on AWS a cold
            # start each), which the timed burst would otherwise pay for.
            burst(cloud.api, logs, stage.bus_account, args.warmup_burst, args.concurrency)
        cpu_before = cloud.cpu_seconds()
        burst_s = (burst(cloud.api, logs, stage.bus_account, args.burst, args.concurrency)
                   if args.burst else 0.0)
        cpu_used = {role: seconds - cpu_before.get(role, 0.0)
                    for role, seconds in cloud.cpu_seconds().items()}
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
        print_cpu(cpu_used, args.burst)


if __name__ == "__main__":
    main()
