"""Tenant isolation: the worst-case routing of one adversarial event, and another
account's API latency while one account floods its own bus (figures printed, not asserted).

Run: .venv/bin/python bench/bench_isolation.py [--seconds 10]

It starts ``python -m localcloud --port 0`` as its own process. Account A puts the issue's
rule (``*a*a*a*a*a*b``, accepted: its complexity is within AWS's limit) and the most
complex wildcard rule the limit accepts on its own bus, then sends events whose values
are the worst case for them (long runs of ``a``, no ``b``). Meanwhile account B calls
``ListEventBuses`` and ``PutEvents`` on its own bus; B's latencies are printed as p50/p99
next to the same calls with A idle. Before the fix one 150-character event held every
account for ~18 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from localcloud.patterns import compile_pattern  # noqa: E402

REGION = "eu-west-1"
ISSUE_RULE = "*a*a*a*a*a*b"
WIDEST_ACCEPTED = "*a*a*a*a*a*a*a*a*b"  # the most a-stars the complexity limit lets through


# The endpoint's control routes (/_local/idle) need this secret, given in its environment.
CONTROL_SECRET = os.urandom(16).hex()


def start_endpoint() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "localcloud", "--port", "0"], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "LOCALCLOUD_CONTROL_SECRET": CONTROL_SECRET})
    assert process.stdout is not None
    process.stdout.readline()  # control secret: ...
    line = process.stdout.readline()
    match = re.search(r"listening: (http://\S+)", line)
    if match is None:
        process.kill()
        raise SystemExit(f"endpoint did not start: {line!r}")
    return process, match.group(1)


def client(url: str, account: str, service: str) -> Any:
    sts = boto3.client("sts", endpoint_url=url, region_name=REGION,
                       aws_access_key_id="base", aws_secret_access_key="base")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                            RoleSessionName="bench")["Credentials"]
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


def in_process_worst_case(value_chars: int) -> float:
    """Seconds to match one value of ``value_chars`` against both adversarial rules."""
    patterns = [compile_pattern({"detail": {"v": [{"wildcard": w}]}})
                for w in (ISSUE_RULE, WIDEST_ACCEPTED)]
    event = {"detail": {"v": "a" * value_chars}}
    start = time.perf_counter()
    for pattern in patterns:
        assert not pattern.matches(event)
    return time.perf_counter() - start


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"p50 {statistics.median(ordered) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  "
            f"max {ordered[-1] * 1000:7.1f} ms  ({len(ordered)} calls)")


def measure_b(events_b: Any, seconds: float) -> list[float]:
    samples: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.perf_counter()
        events_b.list_event_buses()
        events_b.put_events(Entries=[{"EventBusName": "quiet", "Source": "b",
                                      "DetailType": "Tick", "Detail": "{}"}])
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}")
    for chars in (150, 10_000, 250_000):
        print(f"in-process worst case, one {chars:>7,}-char value, both rules: "
              f"{in_process_worst_case(chars) * 1000:8.2f} ms")

    process, url = start_endpoint()
    try:
        events_a = client(url, "444444444444", "events")
        events_b = client(url, "555555555555", "events")
        events_a.create_event_bus(Name="own")
        events_b.create_event_bus(Name="quiet")
        for number, wildcard in enumerate((ISSUE_RULE, WIDEST_ACCEPTED)):
            events_a.put_rule(Name=f"adversarial-{number}", EventBusName="own",
                              EventPattern=json.dumps({"detail": {"v": [{"wildcard": wildcard}]}}))
            events_a.put_targets(Rule=f"adversarial-{number}", EventBusName="own", Targets=[{
                "Id": "log", "Arn": f"arn:aws:logs:{REGION}:444444444444:log-group:/bench/a"}])

        # One event routed alone: from PutEvents to idle, over HTTP.
        value = "a" * 250_000
        start = time.perf_counter()
        events_a.put_events(Entries=[{"EventBusName": "own", "Source": "a", "DetailType": "X",
                                      "Detail": json.dumps({"v": value})}])
        idle = requests.get(f"{url}/_local/idle?timeout=60", timeout=70,
                            headers={"X-Localcloud-Secret": CONTROL_SECRET}).json()["idle"]
        print(f"one 250,000-char adversarial event, PutEvents to routed: "
              f"{(time.perf_counter() - start) * 1000:.1f} ms (idle: {idle})")

        baseline = measure_b(events_b, args.seconds / 2)
        print(f"account B alone:           {percentiles(baseline)}")

        stop = threading.Event()
        sent = [0]

        def flood() -> None:
            entry = {"EventBusName": "own", "Source": "a", "DetailType": "X",
                     "Detail": json.dumps({"v": "a" * 20_000})}
            while not stop.is_set():
                events_a.put_events(Entries=[entry] * 10)
                sent[0] += 10

        flooders = [threading.Thread(target=flood, daemon=True) for _ in range(2)]
        for thread in flooders:
            thread.start()
        loaded = measure_b(events_b, args.seconds)
        stop.set()
        for thread in flooders:
            thread.join()
        print(f"account B while A floods:  {percentiles(loaded)}")
        print(f"account A sent {sent[0]:,} adversarial 20,000-char events meanwhile")
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
