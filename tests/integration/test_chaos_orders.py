"""`local up --chaos`: the handlers' idempotency under at-least-once delivery (issue 10,
item 6). With duplicates, delays and transient failures on every delivery, a few hundred
orders each end DELIVERED once: one Delivery.Updated and one Order.Updated published per
order (the log may hold a delivered copy of an event twice: same id, as on AWS), the
order holds the delivery that was published, and chaos alone dead-lettered nothing. The
stats prove that chaos acted, so the test fails if the handlers' idempotency breaks."""

from __future__ import annotations

import secrets
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from local_up_helpers import GLOBAL_BUS, Cloud, LocalUp, api_call, order_id_of

from infra_bootstrap.cloud_process import CloudProcess
from tests.polling import wait_until
from tests.shared_local_cloud import SharedCloud

pytestmark = pytest.mark.integration

ORDERS = 200
CONCURRENCY = 8
CHAOS = "duplicates=0.3,delay=0.2,failures=0.2,seed=7"
# Deadlines on real conditions, generous for a loaded 2-core machine.
DELIVERED_TIMEOUT = 900.0
IDLE_TIMEOUT = 300.0


def test_with_chaos_on_every_order_is_delivered_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = secrets.token_urlsafe(16)
    monkeypatch.setenv("LOCALCLOUD_CONTROL_SECRET", secret)
    control = {"X-Localcloud-Secret": secret}
    with LocalUp.start("--delivery-delay", "0", "--chaos", CHAOS, tmpdir=tmp_path) as running:
        running.wait_ready()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            answers = list(pool.map(lambda _: api_call("POST", f"{running.api}/orders"),
                                    range(ORDERS)))
        assert [status for status, _ in answers] == [201] * ORDERS
        orders = {body["orderId"]: body for _, body in answers}
        waiting = set(orders)

        def delivered_or_stuck() -> bool:
            for order in sorted(waiting):
                _, body = api_call("GET", f"{running.api}/orders/{order}")
                if body["status"] != "DELIVERED":
                    idle, _ = api_call("GET", f"{running.aws}/_local/idle?timeout=0", control)
                    return idle == 200  # nothing more will happen to it
                orders[order] = body
                waiting.discard(order)
            return True

        wait_until(delivered_or_stuck, DELIVERED_TIMEOUT, "every order to be DELIVERED",
                   interval=1)
        _, stats = api_call("GET", f"{running.aws}/_local/stats", control)
        assert not waiting, (f"{len(waiting)} orders not DELIVERED; stats {stats['stats']}; "
                             f"failures {stats['failures'][-5:]}")
        # Duplicates and delays may still be on their way: wait until nothing is left.
        idle, _ = api_call("GET", f"{running.aws}/_local/idle?timeout={IDLE_TIMEOUT:g}", control)
        assert idle == 200
        _, stats = api_call("GET", f"{running.aws}/_local/stats", control)
        view = Cloud(SharedCloud(CloudProcess(running.process.pid, running.api, running.aws,
                                              tmp_path / "unused")))
        events = view.bus_log(GLOBAL_BUS)

    counts = stats["stats"]
    assert counts["chaos_duplicates"] > 0
    assert counts["chaos_delays"] > 0
    assert counts["chaos_failures"] > 0
    assert counts["dead_lettered"] == counts["dropped"] == 0, stats["failures"][-5:]
    # Distinct event ids per order and detail-type: what each handler published.
    published: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    delivery_of: dict[str | None, str] = {}
    for event in events:
        data = event["detail"]["data"]
        published[(event["detail-type"], order_id_of(data))].add(event["id"])
        if event["detail-type"] == "Delivery.Updated":
            delivery_of[order_id_of(data)] = data["deliveryId"]
    for order, body in orders.items():
        for detail_type in ("Order.Created", "Delivery.Updated", "Order.Updated"):
            assert len(published[(detail_type, order)]) == 1, (detail_type, order)
        assert body["deliveryId"] == delivery_of[order]
    chaos_lines = [line for line in running.stderr if line.startswith("chaos: on")]
    assert len(chaos_lines) == 1 and "seed=7" in chaos_lines[0]
