"""Dead letters end to end, on a `local up` of its own (the test breaks a bus policy).

The acceptance of the operator's toolkit, as a user runs it: a broken local bus policy
dead-letters a forward, ``dlq list`` counts it, ``create`` repairs the policy, ``dlq
redrive`` completes the order with exactly one Order.Updated and empties every queue; a
poison event dead-lettered by its handler is still in a queue after a redrive that fails
again.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from local_up_helpers import (
    BUS_ACCOUNT,
    DELIVERY_ACCOUNT,
    DELIVERY_BUS,
    EVENT_TIMEOUT,
    GLOBAL_BUS,
    GLOBAL_BUS_ARN,
    ORDER_ACCOUNT,
    ORDER_BUS,
    Cloud,
    LocalUp,
    wait_until,
)

from backbone.catalog import event_type
from infra_bootstrap import names
from infra_bootstrap.cloud_process import CloudProcess
from tests.shared_local_cloud import REPO_ROOT, SharedCloud, clean_env

pytestmark = pytest.mark.integration
CLI_TIMEOUT = 120.0
ORDER_DLQ = names.service_dlq("order-service")
REFUSED = "CROSS_ACCOUNT_INGESTION_FAILED"


@pytest.fixture
def own_cloud(tmp_path: Path) -> Iterator[tuple[LocalUp, Cloud]]:
    with LocalUp.start("--delivery-delay", "0", tmpdir=tmp_path) as running:
        running.wait_ready()
        yield running, Cloud(SharedCloud(CloudProcess(
            running.process.pid, running.api, running.aws, tmp_path / "unused")))


def cli(cloud: Cloud, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**clean_env(), "AWS_ENDPOINT_URL": cloud.aws}
    return subprocess.run([sys.executable, "-m", "infra_bootstrap", *args], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT)


def queue_counts(cloud: Cloud) -> dict[str, dict[str, Any]]:
    listed = cli(cloud, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return {row["queue"]: row for row in json.loads(listed.stdout)}


def _order_updated(cloud: Cloud, order_id: str) -> list[dict[str, Any]]:
    return [e for e in cloud.events_about(GLOBAL_BUS, order_id)
            if e["detail-type"] == "Order.Updated"]


def _poison(cloud: Cloud) -> str:
    """A Delivery.Updated, valid by its schema, for an order nobody has: the order
    service's handler fails on it every time. Returns its order id."""
    detail = copy.deepcopy(dict(event_type("Delivery.Updated").example_detail))
    order_id = str(uuid.uuid4())
    detail["data"]["order"]["orderId"] = order_id
    detail["meta"] = {"correlationId": f"poison-{order_id}", "producer": "delivery-service"}
    result = cloud.client(DELIVERY_ACCOUNT, "events").put_events(Entries=[{
        "EventBusName": GLOBAL_BUS_ARN, "Source": "delivery-service",
        "DetailType": "Delivery.Updated", "Detail": json.dumps(detail)}])
    assert result["FailedEntryCount"] == 0, result
    return order_id


def _console_line(running: LocalUp, *needles: str) -> str:
    """The next line local up prints that holds every needle (earlier lines are kept)."""
    for line in running.lines:
        if all(n in line for n in needles):
            return line
    while (line := running.next_line(EVENT_TIMEOUT)) is not None:
        if all(n in line for n in needles):
            return line
    pytest.fail(f"local up ended without a line holding {needles}")


def _letters_about(cloud: Cloud, queue: str, key: str) -> list[dict[str, Any]]:
    shown = cli(cloud, "dlq", "show", queue, "--json")
    assert shown.returncode == 0, shown.stderr
    return [d for d in json.loads(shown.stdout) if key in json.dumps(d["event"])]


def test_a_dead_lettered_forward_is_counted_repaired_and_redriven_once(
        own_cloud: tuple[LocalUp, Cloud]) -> None:
    running, cloud = own_cloud
    denied = cloud.client(DELIVERY_ACCOUNT, "events").put_events(Entries=[{
        "EventBusName": GLOBAL_BUS_ARN, "Source": "order-service",
        "DetailType": "Order.Created", "Detail": "{}"}])
    assert denied["FailedEntryCount"] == 1
    assert "order-service on global-bus: NotAuthorizedForSourceException" in _console_line(
        running, "DENIED PutEvents Order.Created")
    # Break the order account's local bus policy: the bus refuses the forward (EventBridge
    # User Guide, rule-dlq: CROSS_ACCOUNT_INGESTION_FAILED, not retried).
    cloud.client(ORDER_ACCOUNT, "events").remove_permission(
        RemoveAllPermissions=True, EventBusName=ORDER_BUS)
    order_id = cloud.post_order()

    wait_until(lambda: queue_counts(cloud)[names.FORWARD_DLQ]["messages"] >= 1,
               EVENT_TIMEOUT, "the Delivery.Updated forward in the forward DLQ")
    counted = queue_counts(cloud)
    assert counted[names.FORWARD_DLQ]["account"] == BUS_ACCOUNT
    assert counted[names.FORWARD_DLQ]["messages"] == 1
    [letter] = _letters_about(cloud, names.FORWARD_DLQ, order_id)
    assert letter["detailType"] == "Delivery.Updated"
    assert letter["error"] == REFUSED
    assert letter["destination"] == {
        "kind": "bus", "arn": names.local_bus_arn("eu-west-1", ORDER_ACCOUNT, "order-service")}
    assert cloud.order_status(order_id) == "CREATED"
    traced = cli(cloud, "events", "trace", order_id)
    assert traced.returncode == 0, traced.stderr
    assert f"DEAD LETTER in {names.FORWARD_DLQ} ({BUS_ACCOUNT}): {REFUSED}" in traced.stdout

    # A redrive before the repair fails, and keeps the message.
    early = cli(cloud, "dlq", "redrive", names.FORWARD_DLQ, "--yes")
    assert early.returncode == 1
    assert "NOT redriven Delivery.Updated" in early.stderr
    assert queue_counts(cloud)[names.FORWARD_DLQ]["messages"] == 1

    repaired = cli(cloud, "create")
    assert repaired.returncode == 0, repaired.stderr
    dry = cli(cloud, "dlq", "redrive", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would redrive Delivery.Updated {letter['eventId']}" in dry.stdout
    redriven = cli(cloud, "dlq", "redrive", "--yes")
    assert redriven.returncode == 0, redriven.stderr
    assert "1 redriven, 0 kept" in redriven.stdout

    cloud.wait_delivered(order_id)
    wait_until(lambda: _order_updated(cloud, order_id), EVENT_TIMEOUT,
               f"Order.Updated of {order_id}")
    assert len(_order_updated(cloud, order_id)) == 1
    assert all(row["messages"] == 0 and row["inFlight"] == 0
               for row in queue_counts(cloud).values())

    # A poison event: its handler fails every time, Lambda dead-letters it.
    poison_order = _poison(cloud)
    wait_until(lambda: _letters_about(cloud, ORDER_DLQ, poison_order), EVENT_TIMEOUT,
               "the poison event in the order service's handler DLQ")
    [poisoned] = _letters_about(cloud, ORDER_DLQ, poison_order)
    assert poisoned["origin"] == "lambda"
    assert poisoned["error"].startswith("RetriesExhausted")
    # local up's console tells the story: the failure, the retries, the dead letter's queue.
    poison_id = poisoned["eventId"]
    assert "OrderNotFound" in _console_line(running, "FAILED", poison_id)
    _console_line(running, "RETRY", poison_id)
    assert _console_line(running, "DEAD LETTER", poison_id).split(" -> ")[1].startswith(
        f"{ORDER_DLQ}: RetriesExhausted")
    # and the forward refused earlier by the broken bus policy, with its queue:
    assert _console_line(running, "DEAD LETTER", letter["eventId"]).split(" -> ")[1] \
        .startswith(f"{names.FORWARD_DLQ}: {REFUSED}")
    cli(cloud, "dlq", "redrive", ORDER_DLQ, "--yes")
    # Accepted and failed again, or refused: either way it is in the queue, never lost.
    wait_until(lambda: _letters_about(cloud, ORDER_DLQ, poison_order), EVENT_TIMEOUT,
               "the poison event back in the handler DLQ after a failed redrive")
    assert running.process.poll() is None


def _detail_types_about(cloud: Cloud, bus: str, order_id: str) -> list[str]:
    return sorted(e["detail-type"] for e in cloud.events_about(bus, order_id))


def test_replay_redelivers_the_window_to_one_service_and_changes_no_order(
        own_cloud: tuple[LocalUp, Cloud]) -> None:
    _, cloud = own_cloud
    since = datetime.now(UTC) - timedelta(seconds=2)
    order_id = cloud.post_order()
    cloud.wait_delivered(order_id)
    wait_until(lambda: _order_updated(cloud, order_id), EVENT_TIMEOUT,
               f"Order.Updated of {order_id}")
    wait_until(lambda: len(cloud.events_about(DELIVERY_BUS, order_id)) == 2, EVENT_TIMEOUT,
               "Order.Created and Order.Updated on the delivery bus")
    archive = cloud.client(BUS_ACCOUNT, "events").describe_archive(
        ArchiveName=names.GLOBAL_ARCHIVE)["EventCount"]
    before = {bus: _detail_types_about(cloud, bus, order_id)
              for bus in (GLOBAL_BUS, ORDER_BUS)}

    replayed = cli(cloud, "events", "replay", "--since", since.isoformat(),
                   "--service", "delivery-service", "--yes")

    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.splitlines()[-1].endswith(": COMPLETED") or \
        ": COMPLETED" in replayed.stdout
    again = wait_until(lambda: [e for e in cloud.events_about(DELIVERY_BUS, order_id)
                                if "replay-name" in e] or None,
                       EVENT_TIMEOUT, "the replayed events on the delivery bus")
    originals = {e["id"]: e for e in cloud.events_about(GLOBAL_BUS, order_id)}
    wait_until(lambda: len([e for e in cloud.events_about(DELIVERY_BUS, order_id)
                            if "replay-name" in e]) == 2, EVENT_TIMEOUT, "both replayed")
    again = [e for e in cloud.events_about(DELIVERY_BUS, order_id) if "replay-name" in e]
    assert sorted(e["detail-type"] for e in again) == ["Order.Created", "Order.Updated"]
    assert len({e["replay-name"] for e in again}) == 1
    for event in again:  # the archived envelope, plus replay-name
        assert {k: v for k, v in event.items() if k != "replay-name"} == originals[event["id"]]
    # Only the delivery service's forwarding rule: nothing replayed on the order bus, nor
    # archived again; the idempotent handler published nothing new.
    assert cloud.client(BUS_ACCOUNT, "events").describe_archive(
        ArchiveName=names.GLOBAL_ARCHIVE)["EventCount"] == archive
    for _ in range(20):  # a short look for anything the replay might still cause
        assert {bus: _detail_types_about(cloud, bus, order_id)
                for bus in (GLOBAL_BUS, ORDER_BUS)} == before
        time.sleep(0.1)
    assert before[GLOBAL_BUS] == ["Delivery.Updated", "Order.Created", "Order.Updated"]
    assert cloud.order_status(order_id) == "DELIVERED"
