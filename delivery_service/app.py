"""delivery-service: delivers orders (simulated work) and reports each delivery.

Subscriptions (rules on local-bus-delivery-service, wired by ``infra_bootstrap subscribe``)
    on_order_created    Order.Created -> wait DELIVERY_DELAY_SECONDS, publish Delivery.Updated

Idempotency (at-least-once delivery): one delivery item per order, created with a
conditional put (so one deliveryId and deliveredAt per order, whoever wins), and a
``published`` flag set only after Delivery.Updated was published. A duplicate after
success changes nothing and publishes nothing; a retry after a failed publish
publishes the stored delivery again without redoing the work.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from chalice import Chalice

from backbone import observability, settings
from backbone.envelope import Event, OutgoingEvent, utc_now
from backbone.publisher import Publisher
from backbone.store import Table
from backbone.subscriptions import subscribe

APP_NAME = "delivery-service"

# Chalice logs to logging.getLogger(APP_NAME); Powertools Logger owns that logger, so
# Chalice's own lines (e.g. an unhandled exception) are JSON with the correlation id too.
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
    """The delivery item recorded for an order once the work is done."""
    pk, sk = delivery_key(order["orderId"])
    return {"pk": pk, "sk": sk, "orderId": order["orderId"], "order": dict(order),
            "deliveryId": str(uuid.uuid4()), "deliveredAt": utc_now(),
            "published": False, "correlationId": correlation_id}


@subscribe(app, detail_type="Order.Created", name="on_order_created")
def on_order_created(event: Event) -> None:
    """Deliver the order once and publish Delivery.Updated (until it succeeds)."""
    log = observability.logger()
    order = dict(event.data)
    pk, sk = delivery_key(order["orderId"])
    delivery = table.get(pk, sk)
    if delivery is None:
        do_delivery_work(settings.delivery_delay_seconds())
        candidate = new_delivery(order, correlation_id=event.correlation_id)
        if table.put_new(candidate):
            delivery = candidate
            log.info("order delivered", extra={"order_id": order["orderId"],
                                               "delivery_id": candidate["deliveryId"]})
        else:  # a concurrent duplicate recorded its delivery first: report that one
            delivery = table.get(pk, sk) or candidate
    if delivery["published"]:
        log.info("duplicate Order.Created ignored", extra={
            "order_id": order["orderId"], "event_id": event.id})
        return
    publisher.publish(OutgoingEvent(
        "Delivery.Updated",
        {"order": delivery["order"], "deliveredAt": delivery["deliveredAt"],
         "deliveryId": delivery["deliveryId"]},
        event.follow_up_meta(APP_NAME)))
    table.update_if(pk, sk, set_values={"published": True}, condition="attribute_exists(pk)")
