"""The operator's toolkit against the running local cloud, as a user runs it.

Every command runs as ``python -m infra_bootstrap ...`` in a subprocess whose only AWS
setting is ``AWS_ENDPOINT_URL``; the stage's sessions (assumed roles) do the rest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from local_up_helpers import (
    BUS_ACCOUNT,
    DELIVERY_BUS,
    EVENT_TIMEOUT,
    GLOBAL_BUS,
    ORDER_BUS,
    Cloud,
    wait_until,
)

from tests.shared_local_cloud import REPO_ROOT, clean_env

pytestmark = pytest.mark.integration
CLI_TIMEOUT = 120.0


def cli(cloud: Cloud, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m infra_bootstrap ARGS`` against the cloud, as a user with no AWS setup."""
    env = {**clean_env(), "AWS_ENDPOINT_URL": cloud.aws}
    return subprocess.run([sys.executable, "-m", "infra_bootstrap", *args], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT)


def _correlation_of(cloud: Cloud, order_id: str) -> str:
    created = wait_until(lambda: next(iter(cloud.events_about(GLOBAL_BUS, order_id)), None),
                         EVENT_TIMEOUT, f"Order.Created of {order_id} in the global log")
    return str(created["detail"]["meta"]["correlationId"])


def _placed_and_logged(cloud: Cloud) -> tuple[str, str]:
    """An order taken to its Order.Updated on the global bus: (order id, correlation id)."""
    order_id = cloud.post_order()
    cloud.wait_delivered(order_id)
    wait_until(lambda: any(e["detail-type"] == "Order.Updated"
                           for e in cloud.events_about(GLOBAL_BUS, order_id)),
               EVENT_TIMEOUT, f"Order.Updated of {order_id} in the global log")
    wait_until(lambda: len(cloud.events_about(DELIVERY_BUS, order_id)) >= 2,
               EVENT_TIMEOUT, f"Order.Updated of {order_id} on the delivery bus")
    return order_id, _correlation_of(cloud, order_id)


def _tree(nodes: list[dict[str, Any]]) -> list[tuple[str, list[str], int]]:
    """(detail-type, buses, depth) of every node, depth first."""
    out: list[tuple[str, list[str], int]] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        out.append((node["detailType"], [h["bus"] for h in node["hops"]], depth))
        for child in node["children"]:
            walk(child, depth + 1)

    for node in nodes:
        walk(node, 0)
    return out


def test_trace_shows_an_orders_chain_on_every_bus_as_a_causal_tree(cloud: Cloud) -> None:
    order_id, correlation = _placed_and_logged(cloud)

    as_json = cli(cloud, "events", "trace", correlation, "--json")
    text = cli(cloud, "events", "trace", order_id)

    assert as_json.returncode == 0, as_json.stderr
    tree = _tree(json.loads(as_json.stdout)["events"])
    assert tree == [
        ("Order.Created", [GLOBAL_BUS, DELIVERY_BUS], 0),
        ("Delivery.Updated", [GLOBAL_BUS, ORDER_BUS], 1),
        ("Order.Updated", [GLOBAL_BUS, DELIVERY_BUS], 2)]
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == f"trace of {order_id}: 3 event(s), 6 hop(s), 0 dead letter(s)"
    assert lines[1].startswith("Order.Created ") and f"order={order_id}" in lines[1]
    assert lines[2].split()[:3] == ["+0", "ms", GLOBAL_BUS]
    assert any("after its cause" in line for line in lines)


def test_tail_lists_an_orders_events_from_every_bus_in_time_order(cloud: Cloud) -> None:
    order_id, correlation = _placed_and_logged(cloud)

    result = cli(cloud, "events", "tail", "--since", "10m")
    only_global = cli(cloud, "events", "tail", "--since", "10m", "--bus", GLOBAL_BUS,
                      "--pattern", '{"detail-type": ["Order.Updated"]}')

    assert result.returncode == 0, result.stderr
    mine = [line.split() for line in result.stdout.splitlines() if f"order={order_id}" in line]
    assert sorted((row[1], row[2]) for row in mine) == sorted([
        (GLOBAL_BUS, "Order.Created"), (DELIVERY_BUS, "Order.Created"),
        (GLOBAL_BUS, "Delivery.Updated"), (ORDER_BUS, "Delivery.Updated"),
        (GLOBAL_BUS, "Order.Updated"), (DELIVERY_BUS, "Order.Updated")])
    assert [row[0] for row in mine] == sorted(row[0] for row in mine)
    assert all(f"correlation={correlation}" in row for row in mine)
    assert only_global.returncode == 0, only_global.stderr
    assert [line.split()[1:3] for line in only_global.stdout.splitlines()
            if f"order={order_id}" in line] == [[GLOBAL_BUS, "Order.Updated"]]
    assert f"({BUS_ACCOUNT})" not in result.stdout  # the account is the publisher's


def test_bad_input_is_one_line_and_exit_nonzero(cloud: Cloud) -> None:
    bad_bus = cli(cloud, "events", "tail", "--bus", "nope")
    bad_pattern = cli(cloud, "events", "tail", "--pattern", '{"source": []}')
    bad_since = cli(cloud, "events", "tail", "--since", "yesterday-ish")
    unknown = cli(cloud, "events", "trace", "no-such-correlation-id")

    for result, needle in [(bad_bus, "--bus nope"), (bad_pattern, "--pattern"),
                           (bad_since, "yesterday-ish"), (unknown, "no-such-correlation-id")]:
        assert result.returncode != 0
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert needle in result.stderr
