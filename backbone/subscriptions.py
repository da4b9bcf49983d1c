"""``@subscribe``: a Lambda function fed by a rule on the service's own local bus.

Chalice's ``on_cw_event`` only knows the default bus, so this decorator registers a
plain ``@app.lambda_function(name=...)`` and records the EventBridge pattern on the
app; ``infra_bootstrap subscribe`` reads the record (by importing the app: no network,
credentials or environment needed) and creates the rule on ``local-bus-<service>``.

The handler receives a parsed, schema-checked :class:`~backbone.envelope.Event`;
an invalid event is logged with the violation and raises, so Lambda's async retries
and then the dead-letter queue get it.

>>> from chalice import Chalice
>>> app = Chalice(app_name="order-service", configure_logs=False)
>>> @subscribe(app, detail_type="Delivery.Updated", name="on_delivery_updated")
... def on_delivery_updated(event: Event) -> None: ...
>>> subscriptions_of(app)[0].event_pattern
{'source': ['delivery-service'], 'detail-type': ['Delivery.Updated']}
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backbone import observability, tracing
from backbone.catalog import event_type
from backbone.envelope import Event, parse_event
from backbone.errors import BackboneServiceError, MalformedEvent, SchemaViolation

_ATTRIBUTE = "_backbone_subscriptions"
# Chalice function names become part of the Lambda name <app>-<stage>-<name> (64 max).
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Subscription:
    """One declared subscription of a service.

    ``name`` is the Chalice ``lambda_function`` name (the key in Chalice's deployed
    state), ``event_pattern`` the EventBridge pattern of the rule on the service's own
    local bus, ``handler`` the Lambda entry point ``(event, context)``.
    """

    name: str
    event_pattern: dict[str, Any]
    handler: Callable[[Any, Any], Any] = field(compare=False)


def subscribe(app: Any, *, detail_type: str, name: str,
              source: str | None = None) -> Callable[[Callable[[Event], Any]], Any]:
    """Register ``fn(event: Event)`` as Lambda function ``name`` subscribed to
    ``detail_type`` from ``source`` (default: the producer in the event catalog)."""
    producer = source or event_type(detail_type).source  # UnknownEventType if not cataloged
    if not _NAME.match(name):
        raise ValueError(f"subscription name {name!r}: 1-40 letters, digits or _, "
                         "starting with a letter")
    if any(s.name == name for s in subscriptions_of(app)):
        raise ValueError(f"subscription {name!r} is declared twice on {app.app_name}")
    pattern = {"source": [producer], "detail-type": [detail_type]}

    def decorator(fn: Callable[[Event], Any]) -> Any:
        @functools.wraps(fn)
        def entry_point(raw_event: Any, context: Any) -> Any:
            correlation = _correlation_of(raw_event)
            with observability.invocation(correlation, context) as log, tracing.span(
                    f"{name} {pattern['detail-type'][0]}", kind="consumer",
                    parent=_meta_of(raw_event).get("traceparent"),
                    attributes={"backbone.subscription": name,
                                "backbone.event_id": str(_get(raw_event, "id"))}):
                try:
                    event = parse_event(raw_event, context)
                    _check_routed(event, pattern)
                except SchemaViolation as exc:
                    log.error("event rejected: schema violation", extra={
                        "subscription": name, "event_id": _get(raw_event, "id"),
                        "detail_type": exc.subject, "field": exc.field,
                        "violation": exc.message})
                    raise
                except BackboneServiceError as exc:
                    log.error("event rejected", extra={
                        "subscription": name, "event_id": _get(raw_event, "id"),
                        "reason": str(exc)})
                    raise
                log.info("event received", extra={
                    "subscription": name, "event_id": event.id,
                    "detail_type": event.detail_type, "source": event.source})
                return fn(event)

        registered = app.lambda_function(name=name)(entry_point)
        _records(app).append(Subscription(name=name, event_pattern=pattern,
                                          handler=registered))
        return registered

    return decorator


def subscriptions_of(app: Any) -> tuple[Subscription, ...]:
    """Every subscription declared on a Chalice app, in declaration order."""
    return tuple(getattr(app, _ATTRIBUTE, ()))


def _records(app: Any) -> list[Subscription]:
    if not hasattr(app, _ATTRIBUTE):
        setattr(app, _ATTRIBUTE, [])
    return getattr(app, _ATTRIBUTE)


def _check_routed(event: Event, pattern: dict[str, Any]) -> None:
    """Refuse an event the subscription's rule would not have matched (a misrouted
    target or a manual invoke): the handler would misread its data."""
    if event.source not in pattern["source"] or event.detail_type not in pattern["detail-type"]:
        raise MalformedEvent(f"{event.detail_type} from {event.source} does not match the "
                             f"subscription's pattern {pattern}")


def _get(raw: Any, key: str) -> Any:
    return raw.get(key) if isinstance(raw, dict) else None


def _meta_of(raw: Any) -> dict[str, Any]:
    detail = _get(raw, "detail")
    meta = detail.get("meta") if isinstance(detail, dict) else None
    return meta if isinstance(meta, dict) else {}


def _correlation_of(raw: Any) -> str | None:
    value = _meta_of(raw).get("correlationId")
    return value if isinstance(value, str) else None
