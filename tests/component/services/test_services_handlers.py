"""The subscription handlers, fed the full events EventBridge delivered to the observer.

Order.Created -> delivery-service.on_order_created -> Delivery.Updated
-> order-service.on_delivery_updated -> Order.Updated; each at-least-once safe.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from chalice.test import Client

from backbone import idempotency
from backbone.catalog import event_type
from backbone.errors import PublishError, SchemaViolation, UnpublishedEvent
from backbone.idempotency import DuplicateInProgress


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


# --- concurrent duplicates and dead invocations ----------------------------------------
# A concurrent duplicate is made deterministic by holding the first invocation inside
# its work (or its publish) on a threading.Event while the duplicate runs to the end.

WAIT = 10  # seconds; a bound on a wait that normally ends at once, never a sleep


class Held:
    """Runs ``call`` in a thread and holds it at the first call of ``hold_point``."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.reached, self.go = threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self._call = call
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            self._call()
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def hold_point(self, real: Callable[..., Any]) -> Callable[..., Any]:
        calls: list[int] = []

        def held(*args: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                self.reached.set()
                assert self.go.wait(WAIT)
            return real(*args)

        return held

    def start(self) -> None:
        self._thread.start()
        assert self.reached.wait(WAIT), "the held invocation never reached its hold point"

    def finish(self) -> None:
        self.go.set()
        self._thread.join(WAIT)
        assert not self._thread.is_alive()
        if self.error is not None:
            raise self.error


def test_concurrent_duplicate_order_created_delivers_once_and_publishes_once(
        order_client: Client, delivery_client: Client, use_service: Any, backbone: Any,
        delivery_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, order_created = create_order(order_client, backbone)
    use_service("delivery-service")
    work: list[float] = []
    first = Held(lambda: delivery_client.lambda_.invoke("on_order_created", order_created))
    monkeypatch.setattr(delivery_module, "do_delivery_work", first.hold_point(work.append))

    first.start()  # the first invocation is inside the delivery work
    with pytest.raises(DuplicateInProgress):  # Lambda retries the duplicate later
        delivery_client.lambda_.invoke("on_order_created", order_created)
    first.finish()
    delivery_client.lambda_.invoke("on_order_created", order_created)  # that retry

    assert len(work) == 1
    [delivery_updated] = backbone.published()
    [item] = backbone.table("delivery-service").scan()["Items"]
    assert item["published"] is True and "leaseOwner" not in item
    assert delivery_updated["detail"]["data"]["deliveryId"] == item["deliveryId"]


def test_concurrent_duplicate_delivery_updated_publishes_order_updated_once(
        order_client: Client, delivery_client: Client, use_service: Any, backbone: Any,
        order_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    order, delivery_updated = delivered(order_client, delivery_client, use_service, backbone)
    first = Held(lambda: order_client.lambda_.invoke("on_delivery_updated", delivery_updated))
    monkeypatch.setattr(order_module.publisher, "publish",
                        first.hold_point(order_module.publisher.publish))

    first.start()  # the order is DELIVERED; Order.Updated is being published
    with pytest.raises(DuplicateInProgress):
        order_client.lambda_.invoke("on_delivery_updated", delivery_updated)
    first.finish()
    order_client.lambda_.invoke("on_delivery_updated", delivery_updated)

    [order_updated] = backbone.published()
    assert order_updated["detail"]["data"]["orderId"] == order["orderId"]
    assert order_client.http.get(f"/orders/{order['orderId']}").json_body["status"] == \
        "DELIVERED"


def test_a_retry_takes_over_once_the_lease_of_a_dead_invocation_expires(
        order_client: Client, delivery_client: Client, use_service: Any, backbone: Any,
        order_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, delivery_updated = delivered(order_client, delivery_client, use_service, backbone)

    class Killed(BaseException):
        """The execution environment died (timeout, out of memory): nothing runs after."""

    def die(*events: Any) -> list[str]:
        raise Killed

    with monkeypatch.context() as dying:
        dying.setattr(order_module.publisher, "publish", die)
        dying.setattr(idempotency, "release", lambda *a: None)  # no cleanup either
        with pytest.raises(Killed):
            order_client.lambda_.invoke("on_delivery_updated", delivery_updated)

    # The dead invocation's lease is live: a retry now would race it.
    with pytest.raises(DuplicateInProgress):
        order_client.lambda_.invoke("on_delivery_updated", delivery_updated)
    assert backbone.published() == []
    # Past its expiry (no invocation outlives its own timeout), the retry takes over.
    later = idempotency.now_ms() + idempotency.MAX_LAMBDA_RUNTIME_MS + 60_000
    monkeypatch.setattr(idempotency, "now_ms", lambda: later)
    order_client.lambda_.invoke("on_delivery_updated", delivery_updated)
    order_client.lambda_.invoke("on_delivery_updated", delivery_updated)

    [order_updated] = backbone.published()
    assert order_updated["detail"]["data"]["status"] == "DELIVERED"


def test_a_failed_publish_releases_the_lease_so_the_retry_need_not_wait(
        order_client: Client, delivery_client: Client, use_service: Any, backbone: Any,
        delivery_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, order_created = create_order(order_client, backbone)

    def failing(*events: Any) -> list[str]:
        raise PublishError((UnpublishedEvent("Delivery.Updated", "corr-1", "Boom", "x"),),
                           (), attempts=4)

    with monkeypatch.context() as failing_once:
        failing_once.setattr(delivery_module.publisher, "publish", failing)
        with pytest.raises(PublishError):
            deliver(delivery_client, use_service, order_created)
    [item] = backbone.table("delivery-service").scan()["Items"]
    assert "leaseOwner" not in item and item["published"] is False

    deliver(delivery_client, use_service, order_created)

    [delivery_updated] = backbone.published()
    assert delivery_updated["detail"]["data"]["deliveryId"] == item["deliveryId"]
