"""The event catalog: every detail-type, who publishes it, its schema file and an example.

The lowest module of the library after ``errors``: validation and subscriptions look
detail-types up here. The tooling renders it as ``docs/events.md``
(``python -m infra_bootstrap catalog docs``).

>>> event_type("Order.Created").source
'order-service'
>>> event_type("Order.Created").schema_file
'order-created.json'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backbone.errors import UnknownEventType

_ORDER = {
    "orderId": "4f8d2c3e-8a1b-4c5d-9e6f-7a8b9c0d1e2f",
    "status": "CREATED",
    "createdAt": "2025-01-01T12:00:00.000Z",
    "customerId": "customer-42",
    "items": [{"sku": "BOOK-123", "quantity": 2}],
    "deliveryAddress": {"line1": "1 Main Street", "city": "Dublin",
                        "postalCode": "D01 X2Y3", "country": "IE"},
}
_DELIVERY = {"deliveredAt": "2025-01-01T12:00:05.000Z",
             "deliveryId": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"}
_META = {"correlationId": "9a7b6c5d-4e3f-4a1b-8c9d-0e1f2a3b4c5d", "producer": "order-service",
         "publishedAt": "2025-01-01T12:00:00.000Z"}


@dataclass(frozen=True)
class EventType:
    """One detail-type of the backbone."""

    detail_type: str
    source: str
    schema_file: str
    description: str
    example_detail: Mapping[str, Any] = field(compare=False)


EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        "Order.Created", "order-service", "order-created.json",
        "An order was accepted by POST /orders and stored. data is the order, status CREATED.",
        {"data": _ORDER, "meta": _META},
    ),
    EventType(
        "Delivery.Updated", "delivery-service", "delivery-updated.json",
        "The delivery service delivered an order: data holds the order as received, "
        "deliveredAt and deliveryId.",
        {"data": {"order": _ORDER, **_DELIVERY},
         "meta": {**_META, "producer": "delivery-service",
                  "causationId": "11111111-2222-3333-4444-555555555555",
                  "publishedAt": "2025-01-01T12:00:05.000Z"}},
    ),
    EventType(
        "Order.Updated", "order-service", "order-updated.json",
        "The order service recorded the delivery: data is the order, status DELIVERED, "
        "with deliveredAt, deliveryId and updatedAt.",
        {"data": {**_ORDER, "status": "DELIVERED", **_DELIVERY,
                  "updatedAt": "2025-01-01T12:00:06.000Z"},
         "meta": {**_META, "causationId": "66666666-7777-8888-9999-000000000000",
                  "publishedAt": "2025-01-01T12:00:06.000Z"}},
    ),
)

_BY_DETAIL_TYPE = {e.detail_type: e for e in EVENT_TYPES}


def event_type(detail_type: str) -> EventType:
    """The catalog entry of a detail-type; UnknownEventType if there is none."""
    try:
        return _BY_DETAIL_TYPE[detail_type]
    except KeyError:
        raise UnknownEventType(detail_type) from None
