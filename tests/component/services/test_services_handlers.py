"""The subscription handlers, fed the full events EventBridge delivered to the observer.

Order.Created -> delivery-service.on_order_created -> Delivery.Updated
-> order-service.on_delivery_updated -> Order.Updated; each at-least-once safe.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

from backbone.catalog import event_type
from backbone.errors import PublishError, SchemaViolation, UnpublishedEvent


def create_order(order_client: Client, backbone: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """POST an order; return (order, the Order.Created event as EventBridge delivered it)."""
    response = order_client.http.post("/orders", headers={"X-Correlation-Id": "corr-1"})
    assert response.status_code == 201
    [event] = backbone.published()
    return response.json_body, event


def deliver(delivery_client: Client, use_service: Any, event: dict[str, Any]) -> None:
    use_service("delivery-service")
    delivery_client.lambda_.invoke("on_order_created", event)


def fail_once(monkeypatch: pytest.MonkeyPatch, publisher: Any) -> None:
    """The publisher's next publish raises PublishError; later ones go through."""
    real = publisher.publish
    calls = []

    def publish(*events: Any) -> list[str]:
        calls.append(events)
        if len(calls) == 1:
            raise PublishError((UnpublishedEvent(events[0].detail_type, "corr-1",
                                                 "InternalFailure", "boom"),), (), 4)
        return real(*events)

    monkeypatch.setattr(publisher, "publish", publish)


def test_delivery_publishes_delivery_updated_once_for_a_duplicate_order_created(
        order_client: Client, delivery_client: Client, use_service: Any,
        backbone: Any) -> None:
    order, order_created = create_order(order_client, backbone)

    deliver(delivery_client, use_service, order_created)
    deliver(delivery_client, use_service, order_created)  # at-least-once: again

    [delivery_updated] = backbone.published()
    assert delivery_updated["source"] == "delivery-service"
    assert delivery_updated["detail-type"] == "Delivery.Updated"
    data, meta = delivery_updated["detail"]["data"], delivery_updated["detail"]["meta"]
    assert data["order"] == order
    assert set(data) == {"order", "deliveredAt", "deliveryId"}
    assert meta["correlationId"] == "corr-1"
    assert meta["causationId"] == order_created["id"]
    [item] = backbone.table("delivery-service").scan()["Items"]
    assert item["deliveryId"] == data["deliveryId"] and item["published"] is True


def test_delivery_waits_the_configured_delay_once(
        order_client: Client, delivery_client: Client, use_service: Any, backbone: Any,
        delivery_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, order_created = create_order(order_client, backbone)
    waited: list[float] = []
    monkeypatch.setattr(delivery_module, "do_delivery_work", waited.append)
    monkeypatch.setenv("DELIVERY_DELAY_SECONDS", "7")

    deliver(delivery_client, use_service, order_created)
    deliver(delivery_client, use_service, order_created)

    assert waited == [7.0]


def test_delivery_default_delay_is_five_seconds(
        order_client: Client, delivery_client: Client, use_service: Any, backbone: Any,
        delivery_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, order_created = create_order(order_client, backbone)
    waited: list[float] = []
    monkeypatch.setattr(delivery_module, "do_delivery_work", waited.append)
    monkeypatch.delenv("DELIVERY_DELAY_SECONDS")

    deliver(delivery_client, use_service, order_created)

    assert waited == [5.0]


def test_delivery_retry_after_failed_publish_publishes_the_stored_delivery(
        order_client: Client, delivery_client: Client, use_service: Any, backbone: Any,
        delivery_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, order_created = create_order(order_client, backbone)
    fail_once(monkeypatch, delivery_module.publisher)
    waited: list[float] = []
    monkeypatch.setattr(delivery_module, "do_delivery_work", waited.append)

    with pytest.raises(PublishError):  # Lambda retries the invocation
        deliver(delivery_client, use_service, order_created)
    [stored] = backbone.table("delivery-service").scan()["Items"]
    assert stored["published"] is False
    deliver(delivery_client, use_service, order_created)
    deliver(delivery_client, use_service, order_created)

    [delivery_updated] = backbone.published()
    assert delivery_updated["detail"]["data"]["deliveryId"] == stored["deliveryId"]
    assert delivery_updated["detail"]["data"]["deliveredAt"] == stored["deliveredAt"]
    assert len(waited) == 1  # the work was not redone


def delivered(order_client: Client, delivery_client: Client, use_service: Any,
              backbone: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """An order and the Delivery.Updated event the delivery service published for it."""
    order, order_created = create_order(order_client, backbone)
    deliver(delivery_client, use_service, order_created)
    [delivery_updated] = backbone.published()
    use_service("order-service")
    return order, delivery_updated


def test_order_is_marked_delivered_once_and_order_updated_published_once(
        order_client: Client, delivery_client: Client, use_service: Any,
        backbone: Any) -> None:
    order, delivery_updated = delivered(order_client, delivery_client, use_service, backbone)

    order_client.lambda_.invoke("on_delivery_updated", delivery_updated)
    first = order_client.http.get(f"/orders/{order['orderId']}").json_body
    order_client.lambda_.invoke("on_delivery_updated", delivery_updated)
    second = order_client.http.get(f"/orders/{order['orderId']}").json_body

    delivery = delivery_updated["detail"]["data"]
    assert first == second  # the duplicate changed nothing (not even updatedAt)
    assert first["status"] == "DELIVERED"
    assert first["deliveredAt"] == delivery["deliveredAt"]
    assert first["deliveryId"] == delivery["deliveryId"]
    [order_updated] = backbone.published()
    assert order_updated["source"] == "order-service"
    assert order_updated["detail-type"] == "Order.Updated"
    assert order_updated["detail"]["data"] == first
    assert order_updated["detail"]["meta"]["correlationId"] == "corr-1"
    assert order_updated["detail"]["meta"]["causationId"] == delivery_updated["id"]


def test_order_retry_after_failed_publish_publishes_order_updated(
        order_client: Client, delivery_client: Client, use_service: Any, backbone: Any,
        order_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    order, delivery_updated = delivered(order_client, delivery_client, use_service, backbone)
    fail_once(monkeypatch, order_module.publisher)

    with pytest.raises(PublishError):
        order_client.lambda_.invoke("on_delivery_updated", delivery_updated)
    assert order_client.http.get(f"/orders/{order['orderId']}").json_body["status"] == \
        "DELIVERED"
    order_client.lambda_.invoke("on_delivery_updated", delivery_updated)
    order_client.lambda_.invoke("on_delivery_updated", delivery_updated)

    [order_updated] = backbone.published()
    assert order_updated["detail"]["data"]["status"] == "DELIVERED"


def test_delivery_for_an_unknown_order_raises(order_client: Client, order_module: Any,
                                              backbone: Any) -> None:
    event = real_envelope("Delivery.Updated", "delivery-service")

    with pytest.raises(order_module.OrderNotFound):
        order_client.lambda_.invoke("on_delivery_updated", event)
    assert backbone.published() == []


def test_a_second_different_delivery_raises(
        order_client: Client, delivery_client: Client, use_service: Any, backbone: Any,
        order_module: Any) -> None:
    _, delivery_updated = delivered(order_client, delivery_client, use_service, backbone)
    order_client.lambda_.invoke("on_delivery_updated", delivery_updated)
    backbone.published()
    other = json.loads(json.dumps(delivery_updated))
    other["detail"]["data"]["deliveryId"] = "0b1c2d3e-4f5a-4b6c-8d7e-000000000000"

    with pytest.raises(order_module.ConflictingDelivery):
        order_client.lambda_.invoke("on_delivery_updated", other)
    assert backbone.published() == []


def real_envelope(detail_type: str, source: str, **detail_changes: Any) -> dict[str, Any]:
    """An event exactly as EventBridge hands it to a Lambda target (catalog example detail)."""
    detail = json.loads(json.dumps(event_type(detail_type).example_detail))
    detail.update(detail_changes)
    return {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": detail_type, "source": source, "account": "333333333333",
            "time": "2025-01-01T12:00:05Z", "region": "eu-west-1", "resources": [],
            "detail": detail}


def test_invalid_event_on_receipt_raises_and_logs_the_violation(
        order_client: Client, delivery_client: Client, use_service: Any, backbone: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    event = real_envelope("Order.Created", "order-service")
    event["detail"]["data"]["items"] = [{"sku": "A", "quantity": -1}]
    capsys.readouterr()

    with pytest.raises(SchemaViolation) as raised:
        deliver(delivery_client, use_service, event)

    assert raised.value.field == "data.items[0].quantity"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [rejected] = [line for line in lines if line.get("message", "").startswith("event rejected")]
    assert rejected["level"] == "ERROR"
    assert rejected["field"] == "data.items[0].quantity"
    assert rejected["service"] == "delivery-service"
    assert rejected["correlation_id"] == event["detail"]["meta"]["correlationId"]
    assert backbone.table("delivery-service").scan()["Items"] == []
    assert backbone.published() == []


def test_every_log_line_carries_service_and_correlation_id_and_metrics_are_emf(
        order_client: Client, delivery_client: Client, use_service: Any, backbone: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    _, delivery_updated = delivered(order_client, delivery_client, use_service, backbone)
    order_client.lambda_.invoke("on_delivery_updated", delivery_updated)

    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    logs = [d for d in documents if "level" in d]
    metrics = [d for d in documents if "_aws" in d]
    assert logs and all(line["correlation_id"] == "corr-1" for line in logs)
    assert {line["service"] for line in logs} == {"order-service", "delivery-service"}
    emitted = {m["Name"] for doc in metrics
               for directive in doc["_aws"]["CloudWatchMetrics"] for m in directive["Metrics"]}
    assert {"OrdersCreated", "OrdersDelivered", "EventsPublished"} <= emitted
    assert all(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Backbone"
               for doc in metrics)
