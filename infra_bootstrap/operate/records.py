"""Events as the bus logs hold them, and what the operator tools read out of them. Pure.

>>> logged = LoggedEvent("global-bus", "111111111111", {"id": "e1", "detail-type": "Order.Created",
...     "source": "order-service", "account": "222222222222",
...     "detail": {"data": {"orderId": "o1"}, "meta": {"correlationId": "c1"}}}, 5, "1", "")
>>> (logged.event_id, logged.correlation_id, logged.entity_id)
('e1', 'c1', 'o1')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The data fields that name the entity an event is about, most specific first.
ENTITY_FIELDS = ("orderId", "deliveryId")


@dataclass(frozen=True)
class LoggedEvent:
    """One EventBridge event as a bus's catch-all log group holds it.

    ``ingestion_ms`` is when the log received it (CloudWatch Logs' ``ingestionTime``):
    the moment the event reached that bus, the closest the logs come to a hop time.
    """

    bus: str
    account: str
    event: Mapping[str, Any]
    ingestion_ms: int
    log_event_id: str
    raw: str

    @property
    def detail_type(self) -> str:
        return str(self.event.get("detail-type", "?"))

    @property
    def source(self) -> str:
        return str(self.event.get("source", "?"))

    @property
    def event_id(self) -> str:
        return str(self.event.get("id", ""))

    @property
    def meta(self) -> Mapping[str, Any]:
        return meta_of(self.event)

    @property
    def correlation_id(self) -> str | None:
        value = self.meta.get("correlationId")
        return str(value) if value else None

    @property
    def causation_id(self) -> str | None:
        value = self.meta.get("causationId")
        return str(value) if value else None

    @property
    def entity_id(self) -> str | None:
        return entity_of(self.event)


def meta_of(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """``detail.meta`` of an event, or an empty mapping.

    >>> meta_of({"detail": {"meta": {"correlationId": "c"}}})
    {'correlationId': 'c'}
    >>> meta_of({"detail": "text"})
    {}
    """
    detail = event.get("detail")
    meta = detail.get("meta") if isinstance(detail, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


def entity_of(event: Mapping[str, Any]) -> str | None:
    """The id of what the event is about: ``orderId`` in ``detail.data`` or in an object
    directly inside it (``Delivery.Updated`` carries ``data.order``), else ``deliveryId``.

    >>> entity_of({"detail": {"data": {"deliveryId": "d", "order": {"orderId": "o"}}}})
    'o'
    >>> entity_of({}) is None
    True
    """
    detail = event.get("detail")
    data = detail.get("data") if isinstance(detail, Mapping) else None
    if not isinstance(data, Mapping):
        return None
    nested = [v for v in data.values() if isinstance(v, Mapping)]
    for name in ENTITY_FIELDS:
        for holder in (data, *nested):
            if holder.get(name):
                return str(holder[name])
    return None


def parse_log_event(bus: str, account: str, item: Mapping[str, Any]) -> LoggedEvent:
    """A FilterLogEvents item of a bus's log group as a LoggedEvent (never raises).

    >>> parse_log_event("b", "1", {"eventId": "9", "message": "[1]"}).detail_type
    '(not an object)'
    """
    raw = str(item.get("message", ""))
    try:
        event = json.loads(raw)
    except ValueError:
        event = {"detail-type": "(not JSON)", "raw": raw}
    if not isinstance(event, dict):
        event = {"detail-type": "(not an object)", "raw": raw}
    ingestion = int(item.get("ingestionTime") or item.get("timestamp") or 0)
    return LoggedEvent(bus, account, event, ingestion, str(item.get("eventId", "")), raw)
