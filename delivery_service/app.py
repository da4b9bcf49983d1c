"""delivery-service: delivers orders (simulated work) and reports each delivery.

Subscriptions (rules on local-bus-delivery-service, wired by ``infra_bootstrap subscribe``)
    on_order_created    Order.Created -> wait DELIVERY_DELAY_SECONDS, publish Delivery.Updated

Idempotency (at-least-once delivery): one delivery item per order, claimed with
``backbone.idempotency.claim`` *before* the work, so the work is done once and an order
has one deliveryId; ``deliveredAt`` is recorded after the work, and a retry publishes
the stored delivery without redoing it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from chalice import Chalice

from backbone import observability, settings
from backbone.envelope import Event, OutgoingEvent, utc_now
from backbone.idempotency import claim
from backbone.publisher import Publisher
from backbone.store import Table
from backbone.subscriptions import subscribe

APP_NAME = "delivery-service"

# Chalice logs to logging.getLogger(APP_NAME); Powertools Logger owns that logger, so
# Chalice's own lines are JSON with the service name too.
# `chalice deploy|package|local` for a stage `configure` did not write: one line, exit 1.
settings.require_configured_stage(APP_NAME)
app = Chalice(app_name=APP_NAME, configure_logs=False)
observability.configure(APP_NAME)
publisher = Publisher(source=APP_NAME)
table = Table()


def delivery_key(order_id: str) -> tuple[str, str]:
    """(pk, sk) of the delivery item of an order in the service table."""
    return f"DELIVERY#{order_id}", "DELIVERY"


def do_delivery_work(seconds: float) -> None:
    """The simulated delivery (the original waits five seconds)."""
    if seconds > 0:
        time.sleep(seconds)


def new_delivery(order: dict[str, Any], *, correlation_id: str) -> dict[str, Any]:
    """The delivery recorded for an order before the work starts (no deliveredAt yet).

    >>> sorted(new_delivery({"orderId": "o-1"}, correlation_id="c-1"))
    ['correlationId', 'deliveryId', 'order', 'orderId']
    """
    return {"orderId": order["orderId"], "order": dict(order),
            "deliveryId": str(uuid.uuid4()), "correlationId": correlation_id}


@subscribe(app, detail_type="Order.Created", name="on_order_created")
def on_order_created(event: Event) -> None:
    """Deliver the order once and publish Delivery.Updated (until it succeeds)."""
    log = observability.logger()
    order = dict(event.data)
    held = claim(table, delivery_key(order["orderId"]), flag="published",
                 create=new_delivery(order, correlation_id=event.correlation_id),
                 context=event.context)
    if held is None:
        log.info("duplicate Order.Created ignored", extra={
            "order_id": order["orderId"], "event_id": event.id})
        return
    with held:
        if "deliveredAt" not in held.item:
            do_delivery_work(settings.delivery_delay_seconds())
            held.update({"deliveredAt": utc_now()})
            log.info("order delivered", extra={
                "order_id": order["orderId"], "delivery_id": held.item["deliveryId"]})
        delivery = held.item
        publisher.publish(OutgoingEvent(
            "Delivery.Updated",
            {"order": delivery["order"], "deliveredAt": delivery["deliveredAt"],
             "deliveryId": delivery["deliveryId"]},
            event.follow_up_meta(APP_NAME)))
