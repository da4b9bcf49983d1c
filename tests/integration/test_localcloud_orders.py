"""Orders through the running local cloud: one order on every bus, then fifty at once."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from local_up_helpers import (
    DELIVERY_ACCOUNT,
    DELIVERY_BUS,
    EVENT_TIMEOUT,
    GLOBAL_BUS,
    ORDER_ACCOUNT,
    ORDER_BUS,
    UUID,
    Cloud,
    detail_types,
    wait_until,
)

pytestmark = pytest.mark.integration


def _logged(cloud: Cloud, bus: str, key: str, count: int) -> list[dict[str, Any]]:
    """The events about ``key`` in a bus's log, once there are ``count`` of them."""
    return wait_until(lambda: (events if len(events := cloud.events_about(bus, key)) >= count
                               else None),
                      EVENT_TIMEOUT, f"{count} events about {key} in the {bus} log")


def test_one_order_crosses_three_accounts_with_its_envelope_intact(cloud: Cloud) -> None:
    order_id = cloud.post_order({"customerId": "c-42",
                                 "items": [{"sku": "BOOK-1", "quantity": 2}]})
    cloud.wait_delivered(order_id)

    global_log = _logged(cloud, GLOBAL_BUS, order_id, 3)
    order_log = _logged(cloud, ORDER_BUS, order_id, 1)
    delivery_log = _logged(cloud, DELIVERY_BUS, order_id, 2)

    assert detail_types(global_log) == ["Order.Created", "Delivery.Updated", "Order.Updated"]
    assert [e["account"] for e in global_log] == [ORDER_ACCOUNT, DELIVERY_ACCOUNT, ORDER_ACCOUNT]
    assert [e["source"] for e in global_log] == ["order-service", "delivery-service",
                                                 "order-service"]
    created, delivered, updated = global_log
    # Each local bus gets what the others published, never its own service's events.
    assert order_log == [delivered]
    assert delivery_log == [created, updated]
    # The whole envelope (id, account, time, region, resources, detail) is kept as is.
    assert delivery_log[0]["id"] == created["id"]
    # One correlation id follows the order through every event it caused.
    assert {e["detail"]["meta"]["correlationId"] for e in global_log} == {
        created["detail"]["meta"]["correlationId"]}

    final = cloud.request("GET", f"/orders/{order_id}").body
    assert final["status"] == "DELIVERED"
    assert final["deliveryId"] == delivered["detail"]["data"]["deliveryId"]
    assert final["deliveredAt"] == delivered["detail"]["data"]["deliveredAt"]
    assert updated["detail"]["data"]["status"] == "DELIVERED"


def test_fifty_concurrent_orders_are_all_delivered_once(cloud: Cloud) -> None:
    with ThreadPoolExecutor(max_workers=50) as pool:
        order_ids = list(pool.map(lambda i: cloud.post_order({"customerId": f"c-{i}"}),
                                  range(50)))
        assert len(set(order_ids)) == 50

        def all_delivered() -> bool:
            statuses = list(pool.map(cloud.order_status, order_ids))
            return all(s == "DELIVERED" for s in statuses)

        wait_until(all_delivered, EVENT_TIMEOUT, "50 orders DELIVERED", interval=0.2)

    expected = {
        GLOBAL_BUS: ["Order.Created", "Delivery.Updated", "Order.Updated"],
        ORDER_BUS: ["Delivery.Updated"],
        DELIVERY_BUS: ["Order.Created", "Order.Updated"],
    }
    ours = set(order_ids)
    for bus, types in expected.items():
        def about_ours(bus: str = bus) -> list[tuple[str, str, str]]:
            found = []
            for event in cloud.bus_log(bus):
                mentioned = ours.intersection(UUID.findall(str(event["detail"]["data"])))
                found += [(order, event["detail-type"], event["id"]) for order in mentioned]
            return found

        wanted = len(types) * 50
        seen = wait_until(lambda f=about_ours, n=wanted: (r if len(r := f()) >= n else None),
                          EVENT_TIMEOUT, f"{wanted} events of the 50 orders in the {bus} log")
        per_order = Counter((order, detail_type) for order, detail_type, _ in seen)
        assert per_order == Counter({(o, t): 1 for o in order_ids for t in types}), bus
        assert len({event_id for _, _, event_id in seen}) == wanted, f"{bus}: duplicate ids"


def test_an_order_whose_text_names_an_aws_action_is_stored_and_deletes_nothing(
        cloud: Cloud) -> None:
    """Request data is data: moto read JSON bodies as query strings too, so this
    customerId turned the order's PutItem into a DeleteTable of the order service's table
    (POST /orders answered 500 before localcloud.moto_fixes and localcloud.json_setup)."""
    sneaky = "x&Action=DeleteTable&"
    order_id = cloud.post_order({"customerId": sneaky})
    cloud.wait_delivered(order_id)

    assert cloud.request("GET", f"/orders/{order_id}").body["customerId"] == sneaky
    after = cloud.post_order({"customerId": "c-43"})  # the table is still there
    cloud.wait_delivered(after)
