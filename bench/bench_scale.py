"""create / verify / destroy for N services: API calls and seconds, N = 2, 5, 10, 20.

Starts the local endpoint (`python -m localcloud`) once; for each N builds a stage of N
services in N + 1 accounts of their own (order-service and delivery-service, which have
app folders, and N - 2 services without one), then runs in this process, as the CLI does:
`create`, `create` again (it must make no mutating call), `verify` (it must be clean) and
`destroy --discard-data`. Every botocore call is counted (reads and changes apart).

Usage: python bench/bench_scale.py [--sizes 2,5,10,20] [--forwarding all|subscribed]
Prints one line per N and command, and the machine's core count. Stock moto has no
cross-account PutEvents or STS trust, so there is no ratio to it here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore.client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_routing import free_port, start  # noqa: E402
from infra_bootstrap import bootstrap  # noqa: E402
from infra_bootstrap.sessions import AccountSessions  # noqa: E402
from infra_bootstrap.topology import DEFAULT_ROLE_NAME, Stage, parse_stage  # noqa: E402

REGION = "eu-west-1"
READ_PREFIXES = ("Describe", "List", "Get", "AssumeRole", "Scan", "FilterLogEvents")


def stage_of(size: int, forwarding: str) -> Stage:
    """N services, each in an account of its own, in a block of accounts for this N."""
    base = 600000000000 + size * 1000
    services = [{"name": "order-service", "account": str(base + 1)},
                {"name": "delivery-service", "account": str(base + 2)}]
    services += [{"name": f"svc-{i:02d}", "account": str(base + 3 + i)}
                 for i in range(size - 2)]
    return parse_stage(f"scale{size}", {
        "region": REGION, "bus_account": str(base), "forwarding": forwarding,
        "credentials": {"role_name": DEFAULT_ROLE_NAME}, "services": services})


class Counter:
    def __init__(self) -> None:
        self.reads = 0
        self.changes = 0

    @contextmanager
    def counting(self) -> Iterator[None]:
        original = botocore.client.BaseClient._make_api_call

        def counted(client: Any, operation: str, params: Any) -> Any:
            if operation.startswith(READ_PREFIXES):
                self.reads += 1
            else:
                self.changes += 1
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
        try:
            yield
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def measure(size: int, what: str, action: Callable[[], Any]) -> Any:
    counter = Counter()
    started = time.perf_counter()
    with counter.counting():
        result = action()
    seconds = time.perf_counter() - started
    print(f"N={size:<3} {what:<22} {counter.reads + counter.changes:>5} calls "
          f"({counter.changes:>4} changes)  {seconds:6.2f} s", flush=True)
    return result, counter


def run(size: int, forwarding: str) -> None:
    stage = stage_of(size, forwarding)
    sessions = AccountSessions(stage)
    measure(size, "create", lambda: bootstrap.apply(stage, sessions))
    _, again = measure(size, "create (again)", lambda: bootstrap.apply(stage, sessions))
    if again.changes:
        raise SystemExit(f"N={size}: the second create made {again.changes} changes")
    report, _ = measure(size, "verify", lambda: bootstrap.verify(stage, sessions))
    if not report.ok:
        raise SystemExit(f"N={size}: verify is not clean: {report.findings}")

    def destroy() -> None:
        planned = bootstrap.destroy_plan(stage, sessions, discard_data=True)
        outcomes = bootstrap.destroy(stage, sessions, planned, discard_data=True)
        kept = [o for o in outcomes if o.result != "deleted"]
        if kept:
            raise SystemExit(f"N={size}: destroy kept {kept}")

    measure(size, "destroy --discard-data", destroy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,5,10,20")
    parser.add_argument("--forwarding", choices=("all", "subscribed"), default="all")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}  forwarding: {args.forwarding}", flush=True)
    port = free_port()
    process = start([sys.executable, "-m", "localcloud", "--port", str(port)], port)
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="local",
                      AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION=REGION)
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            run(size, args.forwarding)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
