"""One readable line per event, as ``events tail`` and ``local up`` print them. Pure.

>>> print(event_line(LoggedEvent("global-bus", "111111111111", {"detail-type": "Order.Created",
...     "source": "order-service", "account": "2222", "id": "e1",
...     "detail": {"data": {"orderId": "o1"}, "meta": {"correlationId": "c1"}}}, 0, "1", "")))
00:00:00.000 global-bus Order.Created from order-service (2222) id=e1 order=o1 correlation=c1
"""

from __future__ import annotations

from infra_bootstrap.operate.records import LoggedEvent
from infra_bootstrap.operate.timespec import clock_ms


def event_line(logged: LoggedEvent) -> str:
    """Time (UTC, when the bus's log got it), bus, detail-type, source, publishing
    account, event id, the entity (order) id and the correlation id."""
    event = logged.event
    line = (f"{clock_ms(logged.ingestion_ms)} {logged.bus} {logged.detail_type} "
            f"from {event.get('source', '?')} ({event.get('account', '?')}) "
            f"id={event.get('id', '?')}")
    if logged.entity_id:
        line += f" order={logged.entity_id}"
    if logged.correlation_id:
        line += f" correlation={logged.correlation_id}"
    return line
