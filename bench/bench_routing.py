"""Events routed per second: our local endpoint vs stock moto, same topology, same run.

Each run starts a fresh AWS endpoint process on a free loopback port, builds stage
`local` with `python -m infra_bootstrap create --stage local` (AWS_ENDPOINT_URL set),
publishes N events in batches of 10 to the global bus, and counts them once visible in
the delivery account's local bus log group (global-bus -> forwarding rule -> delivery
local bus -> its log-all rule -> log group):

- ours: `python -m localcloud`, publishing cross-account from the order account (as
  the services do);
- stock moto: `moto_server`, publishing as the bus account (moto cannot take a
  cross-account PutEvents).

Usage: python bench/bench_routing.py [--events 5000] [--moto-events 300] [--threads 4]
Prints the machine's core count and load, both rates, the median PutEvents round trip (a
batch of 10 on loopback) under the 4 threads' load and, for the local cloud, one call at a
time, and the ratio. The targets: at least 5,000 events/s, fifty times
stock moto, and a PutEvents p50 of at most 2 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infra_bootstrap import names  # noqa: E402
from infra_bootstrap.topology import DEFAULT_ROLE_NAME, load_stage  # noqa: E402

STAGE = load_stage("local")
REGION = STAGE.region
BUS = STAGE.bus_account
ORDER = STAGE.service("order-service").account
DELIVERY = STAGE.service("delivery-service").account
GLOBAL_BUS = names.global_bus_arn(REGION, BUS)
DELIVERY_LOG = names.event_log_group(names.local_bus("delivery-service"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port} after {timeout} s")


def start(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    wait_for_port(port)
    return process


def create_topology(url: str) -> None:
    env = {**os.environ, "AWS_ENDPOINT_URL": url, "PYTHONPATH": str(REPO),
           "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
           "AWS_DEFAULT_REGION": REGION}
    done = subprocess.run([sys.executable, "-m", "infra_bootstrap", "create", "--stage", "local"],
                          cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"create --stage local failed:\n{done.stdout}\n{done.stderr}")


def client(url: str, account: str, service: str) -> object:
    base = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local",
                         region_name=REGION)
    creds = base.client("sts", endpoint_url=url).assume_role(
        RoleArn=names.role_arn(account, DEFAULT_ROLE_NAME),
        RoleSessionName="bench")["Credentials"]
    return base.client(service, endpoint_url=url, aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])


def count_logged(logs: object) -> int:
    total, token = 0, None
    while True:
        kwargs = {"logGroupName": DELIVERY_LOG, **({"nextToken": token} if token else {})}
        page = logs.filter_log_events(**kwargs)  # type: ignore[attr-defined]
        total += len(page["events"])
        token = page.get("nextToken")
        if not token or not page["events"]:
            return total


def run(url: str, publisher: str, events: int, threads: int) -> tuple[float, float, float]:
    """Publish ``events`` in batches of 10 from ``threads`` clients; (publish seconds,
    seconds until all logged, median seconds of one PutEvents call under that load)."""
    clients = [client(url, publisher, "events") for _ in range(threads)]
    logs = client(url, DELIVERY, "logs")
    detail = json.dumps({"data": {"orderId": "o-1", "total": 42}, "meta": {"correlationId": "c"}})
    batch = [{"EventBusName": GLOBAL_BUS, "Source": "order-service",
              "DetailType": "Order.Created", "Detail": detail}] * 10
    batches = events // 10

    calls: list[float] = []

    def publish(index: int) -> int:
        began = time.perf_counter()
        result = clients[index % threads].put_events(Entries=batch)  # type: ignore[attr-defined]
        calls.append(time.perf_counter() - began)
        return result["FailedEntryCount"]

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        failed = sum(pool.map(publish, range(batches)))
    published = time.perf_counter() - started
    if failed:
        raise SystemExit(f"{failed} entries failed to publish")
    deadline = time.monotonic() + 600
    while count_logged(logs) < batches * 10:
        if time.monotonic() > deadline:
            raise SystemExit("events did not all arrive in the delivery log within 10 min")
        time.sleep(0.05)
    return published, time.perf_counter() - started, statistics.median(calls)


def round_trips(url: str, publisher: str, calls: int) -> float:
    """Median seconds of one PutEvents call (a batch of 10), one client, one call at a
    time: the round trip on loopback without other load from this benchmark."""
    events = client(url, publisher, "events")
    detail = json.dumps({"data": {"orderId": "o-1", "total": 42}, "meta": {"correlationId": "c"}})
    batch = [{"EventBusName": GLOBAL_BUS, "Source": "order-service",
              "DetailType": "Order.Created", "Detail": detail}] * 10
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        events.put_events(Entries=batch)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def bench(name: str, command: list[str], port: int, publisher: str, events: int,
          threads: int, alone_calls: int) -> float:
    process = start(command, port)
    try:
        url = f"http://127.0.0.1:{port}"
        create_topology(url)
        published, visible, p50 = run(url, publisher, events, threads)
        alone = round_trips(url, publisher, alone_calls) if alone_calls else None
    finally:
        process.terminate()
        process.wait(timeout=10)
    rate = events / visible
    print(f"{name:<11} {events:>6} events  published in {published:6.2f} s  "
          f"all in the delivery log after {visible:6.2f} s  -> {rate:8.1f} events/s  "
          f"PutEvents p50 {p50 * 1000:.1f} ms with {threads} threads", flush=True)
    if alone is not None:
        print(f"{'':<11} PutEvents p50 {alone * 1000:.2f} ms one call at a time "
              f"({alone_calls} calls, batches of 10)", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--moto-events", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--alone-calls", type=int, default=300,
                        help="PutEvents calls one at a time after the load (local cloud)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (shared machine)",
          flush=True)
    ours_port, moto_port = free_port(), free_port()
    ours = bench("local cloud", [sys.executable, "-m", "localcloud",
                                 "--port", str(ours_port)],
                 ours_port, ORDER, args.events, args.threads, args.alone_calls)
    moto = bench("stock moto", [sys.executable, "-m", "moto.server", "-p", str(moto_port)],
                 moto_port, BUS, args.moto_events, args.threads, 0)
    print(f"ratio: {ours / moto:.1f}x stock moto (targets: >= 5000 events/s, >= 50x, "
          "p50 <= 2 ms)")


if __name__ == "__main__":
    main()
