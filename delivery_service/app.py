"""delivery-service: delivers orders (simulated work) and reports each delivery.

Subscriptions (rules on local-bus-delivery-service, wired by ``infra_bootstrap subscribe``)
    on_order_created    Order.Created -> wait DELIVERY_DELAY_SECONDS, publish Delivery.Updated

Idempotency (at-least-once delivery, see ``backbone.idempotency``): one delivery item
per order, created with a conditional put that also takes the lease, *before* the work
(so the work is done once and there is one deliveryId per order), ``deliveredAt``
recorded after the work, and a ``published`` flag set only after Delivery.Updated was
published. A duplicate after success changes nothing and publishes nothing; a
concurrent duplicate raises DuplicateInProgress (Lambda retries it later); a retry after
a failed publish publishes the stored delivery again without redoing the work.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from chalice import Chalice

from backbone import observability, settings
from backbone.envelope import Event, OutgoingEvent, utc_now
from backbone.idempotency import (
    DuplicateInProgress,
    Lease,
    publish_under_lease,
    released_on_error,
    take_over,
    update_under_lease,
)
from backbone.publisher import Publisher
from backbone.store import Table
from backbone.subscriptions import subscribe

APP_NAME = "delivery-service"

# Chalice logs to logging.getLogger(APP_NAME); Powertools Logger owns that logger, so
# Chalice's own lines are JSON with the service name too.
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
    """The delivery item recorded for an order before the work starts (no deliveredAt yet).

    >>> sorted(new_delivery({"orderId": "o-1"}, correlation_id="c-1"))
    ['correlationId', 'deliveryId', 'order', 'orderId', 'pk', 'published', 'sk']
    """
    pk, sk = delivery_key(order["orderId"])
    return {"pk": pk, "sk": sk, "orderId": order["orderId"], "order": dict(order),
            "deliveryId": str(uuid.uuid4()), "published": False,
            "correlationId": correlation_id}


@subscribe(app, detail_type="Order.Created", name="on_order_created")
def on_order_created(event: Event) -> None:
    """Deliver the order once and publish Delivery.Updated (until it succeeds)."""
    order = dict(event.data)
    pk, sk = delivery_key(order["orderId"])
    lease = Lease.for_invocation(event.context)
    delivery = _claim_delivery(order, event, lease)
    if delivery is None:
        return
    if "deliveredAt" not in delivery:
        with released_on_error(table, pk, sk, lease):
            do_delivery_work(settings.delivery_delay_seconds())
            delivery = update_under_lease(table, pk, sk, lease, {"deliveredAt": utc_now()})
        observability.logger().info("order delivered", extra={
            "order_id": order["orderId"], "delivery_id": delivery["deliveryId"]})
    publish_under_lease(table, pk, sk, lease, flag="published", publish=lambda: (
        publisher.publish(OutgoingEvent(
            "Delivery.Updated",
            {"order": delivery["order"], "deliveredAt": delivery["deliveredAt"],
             "deliveryId": delivery["deliveryId"]},
            event.follow_up_meta(APP_NAME)))))


def _claim_delivery(order: dict[str, Any], event: Event, lease: Lease) -> dict[str, Any] | None:
    """The order's delivery item, leased to this invocation; None for a duplicate of a
    published delivery. Raises DuplicateInProgress while another invocation holds it."""
    pk, sk = delivery_key(order["orderId"])
    candidate = {**new_delivery(order, correlation_id=event.correlation_id),
                 **lease.attributes()}
    if table.put_new(candidate):
        return candidate
    delivery = take_over(table, pk, sk, lease, condition="#published = :false",
                         condition_values={"false": False})
    if delivery is not None:
        return delivery  # an earlier attempt failed or died: finish its delivery
    current = table.get(pk, sk)
    if current is None or not current["published"]:
        raise DuplicateInProgress(f"order {order['orderId']}: another invocation is "
                                  f"delivering it (Order.Created {event.id})")
    observability.logger().info("duplicate Order.Created ignored", extra={
        "order_id": order["orderId"], "event_id": event.id})
    return None
