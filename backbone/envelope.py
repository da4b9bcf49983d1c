"""The event envelope: ``detail = {"data": {...}, "meta": {...}}``, and the parsed event.

>>> meta = Meta(correlation_id="c-1", producer="order-service")
>>> OutgoingEvent("Order.Updated", {"orderId": "x"}, meta).detail()
{'data': {'orderId': 'x'}, 'meta': {'correlationId': 'c-1', 'producer': 'order-service'}}
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backbone.errors import MalformedEvent
from backbone.validation import validate_detail

CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# EventBridge puts version, id, detail-type, source, account, time, region, resources
# and detail in every event it hands a target (EventBridge User Guide, "Amazon
# EventBridge events"). We require the ones handlers rely on: emulators such as moto
# leave out some of the others (moto's SQS targets get no "account").
_REQUIRED_KEYS = ("id", "detail-type", "source", "detail")


def utc_now() -> str:
    """Now as RFC 3339 UTC with milliseconds: ``2025-01-01T12:00:00.000Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def is_correlation_id(value: str) -> bool:
    """True for a value acceptable as ``meta.correlationId`` (e.g. from a request header)."""
    return bool(CORRELATION_ID.match(value))


@dataclass(frozen=True)
class Meta:
    """``detail.meta``: tracing data that travels with every event."""

    correlation_id: str
    causation_id: str | None = None
    producer: str | None = None
    published_at: str | None = None
    #: W3C trace context of the span that published the event (backbone.tracing).
    traceparent: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"correlationId": self.correlation_id, "causationId": self.causation_id,
               "producer": self.producer, "publishedAt": self.published_at,
               "traceparent": self.traceparent}
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Meta:
        traceparent = raw.get("traceparent")
        return cls(correlation_id=raw["correlationId"], causation_id=raw.get("causationId"),
                   producer=raw.get("producer"), published_at=raw.get("publishedAt"),
                   traceparent=traceparent if isinstance(traceparent, str) else None)


@dataclass(frozen=True)
class Event:
    """An event as a handler receives it: EventBridge's envelope, detail split in two.

    Build one with :func:`parse_event`, which also checks the detail's schema.
    """

    id: str
    detail_type: str
    source: str
    account: str
    region: str
    time: str
    resources: tuple[str, ...]
    data: Mapping[str, Any]
    meta: Meta
    raw: Mapping[str, Any] = field(compare=False, repr=False)
    #: The Lambda context of the invocation that received the event (None outside Lambda).
    context: Any = field(default=None, compare=False, repr=False)

    @property
    def correlation_id(self) -> str:
        return self.meta.correlation_id

    def follow_up_meta(self, producer: str) -> Meta:
        """Meta for an event published while handling this one: same correlation id,
        caused by this event."""
        return Meta(correlation_id=self.meta.correlation_id, causation_id=self.id,
                    producer=producer)


def parse_event(raw: Any, context: Any = None) -> Event:
    """Parse the event EventBridge hands a Lambda target; check the detail's schema.

    Raises MalformedEvent (not an EventBridge event), UnknownEventType, or
    SchemaViolation naming the offending field.
    """
    if not isinstance(raw, Mapping):
        raise MalformedEvent(f"not an EventBridge event: payload is {type(raw).__name__}")
    missing = [k for k in _REQUIRED_KEYS if k not in raw]
    if missing:
        raise MalformedEvent(f"not an EventBridge event: missing {', '.join(missing)}")
    detail_type = raw["detail-type"]
    detail = raw["detail"]
    validate_detail(detail_type, detail)
    return Event(id=raw["id"], detail_type=detail_type, source=raw["source"],
                 account=raw.get("account", ""),
                 region=raw.get("region", ""),
                 time=raw.get("time", ""), resources=tuple(raw.get("resources", ())),
                 data=detail["data"], meta=Meta.from_dict(detail["meta"]), raw=raw,
                 context=context)


@dataclass(frozen=True)
class OutgoingEvent:
    """An event to publish: detail-type, data and meta (source is the publisher's)."""

    detail_type: str
    data: Mapping[str, Any]
    meta: Meta
    resources: tuple[str, ...] = ()

    def detail(self) -> dict[str, Any]:
        return {"data": dict(self.data), "meta": self.meta.to_dict()}
