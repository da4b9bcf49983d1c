"""A Lambda worker killed with SIGKILL under load, as on Lambda: `local up` runs on and
says so in one line, the worker is replaced, its invocation retried; every acknowledged
order reaches DELIVERED and no event is duplicated."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from local_up_helpers import LocalUp, lambda_worker_pids, wait_until

pytestmark = pytest.mark.integration

ORDERS = 300
BUS_ACCOUNT = "111111111111"


def _http(method: str, url: str) -> Any:
    request = urllib.request.Request(url, data=b"{}" if method == "POST" else None,
                                     method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def _global_bus_log(aws: str) -> list[dict[str, Any]]:
    base = boto3.client("sts", endpoint_url=aws, region_name="eu-west-1",
                        aws_access_key_id="local", aws_secret_access_key="local")
    creds = base.assume_role(
        RoleArn=f"arn:aws:iam::{BUS_ACCOUNT}:role/OrganizationAccountAccessRole",
        RoleSessionName="test")["Credentials"]
    logs = boto3.client("logs", endpoint_url=aws, region_name="eu-west-1",
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])
    events = []
    for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName="/aws/events/backbone/global-bus"):
        events.extend(json.loads(e["message"]) for e in page["events"])
    return events


def _order_id(data: dict[str, Any]) -> str | None:
    return data.get("orderId") or (data.get("order") or {}).get("orderId")


def test_a_killed_lambda_worker_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    with LocalUp.start("--delivery-delay", "0.2", tmpdir=tmp_path) as running:
        running.wait_ready()
        with ThreadPoolExecutor(8) as pool:
            first = list(pool.map(lambda _: _http("POST", f"{running.api}/orders"),
                                  range(ORDERS // 2)))
            # Midway: some Lambda worker is running an invocation; kill it.
            wait_until(lambda: bool(lambda_worker_pids(running.process.pid)), 60,
                       "a Lambda worker to start")
            victim = sorted(lambda_worker_pids(running.process.pid))[0]
            os.kill(victim, signal.SIGKILL)
            second = list(pool.map(lambda _: _http("POST", f"{running.api}/orders"),
                                   range(ORDERS - ORDERS // 2)))
        acknowledged = [body["orderId"] for status, body in first + second if status == 201]
        assert len(acknowledged) == ORDERS

        waiting = set(acknowledged)

        def all_delivered() -> bool:
            for order in sorted(waiting):
                if _http("GET", f"{running.api}/orders/{order}")[1]["status"] != "DELIVERED":
                    return False
                waiting.discard(order)
            return True

        wait_until(all_delivered, 600, "every acknowledged order to be DELIVERED", interval=1)
        assert running.process.poll() is None             # local up runs on
        wait_until(lambda: sum(e["detail-type"] == "Order.Updated"
                               for e in _global_bus_log(running.aws)) >= ORDERS, 120,
                   "every Order.Updated to be logged", interval=1)
        events = _global_bus_log(running.aws)

    ids = Counter(e["id"] for e in events)
    assert [i for i, n in ids.items() if n > 1] == []
    per_order = Counter((e["detail-type"], _order_id(e["detail"]["data"])) for e in events)
    for order in acknowledged:
        for detail_type in ("Order.Created", "Delivery.Updated", "Order.Updated"):
            assert per_order[(detail_type, order)] == 1, (detail_type, order)
    lost = [line for line in running.stderr if line.startswith("lambda: the worker of ")]
    assert lost and f"(pid {victim})" in lost[0] and lost[0].endswith("; replaced")
