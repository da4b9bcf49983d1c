"""order-service: the order API and its reaction to deliveries.

Routes
    POST /orders            create an order (JSON body optional) -> 201 + Location
    GET  /orders/{orderId}  the order, with deliveredAt/deliveryId once delivered

Subscriptions (rules on local-bus-order-service, wired by ``infra_bootstrap subscribe``)
    on_delivery_updated     Delivery.Updated -> order DELIVERED, publish Order.Updated

Publish-failure design (POST /orders): the order is stored first, then Order.Created
is published (with the publisher's bounded retries). If publishing finally fails, the
stored order is deleted again (compensating delete) and the client gets 503 with
Retry-After, never a 201: a created order always has its event sent. If even the
delete fails, the order is logged at ERROR as orphaned (and the client still gets 503).

Idempotency (at-least-once delivery): the order item is the state, claimed with
``backbone.idempotency.claim``: CREATED -> DELIVERED happens once, Order.Updated is
published until it succeeds (from the stored order, so it is the same event), and
``orderUpdatedPublished`` records that it was.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from chalice import Chalice, ChaliceViewError, Response
from chalice.app import Request

from backbone import observability, settings, tracing
from backbone.envelope import (
    Event,
    Meta,
    OutgoingEvent,
    is_correlation_id,
    new_correlation_id,
    utc_now,
)
from backbone.errors import PublishError, SchemaViolation
from backbone.idempotency import Condition, claim
from backbone.publisher import Publisher
from backbone.store import Table
from backbone.subscriptions import subscribe
from backbone.validation import BASE_URI, check, compile_schema

APP_NAME = "order-service"
MAX_BODY_BYTES = 16 * 1024
CORRELATION_HEADER = "x-correlation-id"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ORDER_REF = f"{BASE_URI}order.json#/properties"
# POST /orders body: every field optional (a bare `curl -X POST` creates an order).
ORDER_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "customerId": {"$ref": f"{_ORDER_REF}/customerId"},
        "items": {"$ref": f"{_ORDER_REF}/items"},
        "deliveryAddress": {"$ref": f"{_ORDER_REF}/deliveryAddress"},
    },
    "additionalProperties": False,
}
DEFAULT_CUSTOMER = "anonymous"
# What GET /orders/{id} and the events show of a stored order item.
ORDER_FIELDS = ("orderId", "status", "createdAt", "customerId", "items", "deliveryAddress",
                "deliveredAt", "deliveryId", "updatedAt")

# Chalice logs to logging.getLogger(APP_NAME); Powertools Logger owns that logger, so
# Chalice's own lines are JSON too (routes log their errors inside the request scope).
# `chalice deploy|package|local` for a stage `configure` did not write: one line, exit 1.
settings.require_configured_stage(APP_NAME)
app = Chalice(app_name=APP_NAME, configure_logs=False)
observability.configure(APP_NAME)
publisher = Publisher(source=APP_NAME)
table = Table()


class OrderNotFound(Exception):
    """A Delivery.Updated for an order this service does not have."""


class ConflictingDelivery(Exception):
    """A second, different delivery for an order already delivered."""


class RequestError(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


# --- pure logic ----------------------------------------------------------------------


@functools.cache
def _request_validator() -> Any:
    return compile_schema(ORDER_REQUEST_SCHEMA)


def order_key(order_id: str) -> tuple[str, str]:
    """(pk, sk) of an order item in the service table."""
    return f"ORDER#{order_id}", "ORDER"


def parse_order_request(raw_body: bytes) -> dict[str, Any]:
    """The validated request body ({} when empty). Raises RequestError naming the field.

    >>> parse_order_request(b"")
    {}
    """
    text = raw_body.decode("utf-8", errors="strict") if raw_body else ""
    if not text.strip():
        return {}
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise RequestError("body", f"is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError("body", f"must be a JSON object, not {type(body).__name__}")
    try:
        check(_request_validator(), body, subject="request body")
    except SchemaViolation as exc:
        raise RequestError(exc.field, exc.message) from None
    return body


def new_order(request: dict[str, Any], *, order_id: str, created_at: str) -> dict[str, Any]:
    """The order a request creates, status CREATED, with defaults filled in."""
    order = {"orderId": order_id, "status": "CREATED", "createdAt": created_at,
             "customerId": request.get("customerId", DEFAULT_CUSTOMER),
             "items": request.get("items", [])}
    if "deliveryAddress" in request:
        order["deliveryAddress"] = request["deliveryAddress"]
    return order


def order_view(item: dict[str, Any]) -> dict[str, Any]:
    """The public order of a stored item (drops keys and bookkeeping attributes)."""
    return {k: item[k] for k in ORDER_FIELDS if k in item}


def _error(status: int, code: str, message: str, correlation_id: str,
           field: str | None = None, headers: dict[str, str] | None = None) -> Response:
    # Same shape as Chalice's own errors ({"Code", "Message"}), plus the field at fault.
    body: dict[str, Any] = {"Code": code, "Message": message}
    if field is not None:
        body["Field"] = field
    return Response(body=body, status_code=status,
                    headers={"X-Correlation-Id": correlation_id, **(headers or {})})


def _traceparent(headers: Any) -> str | None:
    """The request's W3C ``traceparent`` header, if any (its span continues that trace)."""
    value = (headers or {}).get(tracing.TRACEPARENT)
    return value if isinstance(value, str) else None


def _correlation_id(headers: Any) -> str:
    given = (headers or {}).get(CORRELATION_HEADER)
    return given if given and is_correlation_id(given) else new_correlation_id()


# --- routes ----------------------------------------------------------------------------


def _request_scope(view: Callable[..., Response]) -> Callable[..., Response]:
    """Run a route as one invocation: ``view(correlation, log, **path_params)``.

    The correlation id (``X-Correlation-Id`` if valid, else new) is on every log line and
    every response, metrics are flushed at the end, and an unexpected error is logged
    *inside* the scope (Chalice's own "Caught exception" line would come after it,
    without the correlation id) and answered 500 in Chalice's error shape.
    """

    @functools.wraps(view)
    def scoped(**path_params: str) -> Response:
        request = _current_request()
        correlation = _correlation_id(request.headers)
        context: dict[str, Any] = dict(request.context or {})
        route = str(context.get("resourcePath") or request.path)
        with observability.invocation(correlation, request.lambda_context) as log, \
                tracing.span(f"{request.method} {route}", kind="server",
                             parent=_traceparent(request.headers)):
            try:
                return view(correlation, log, **path_params)
            except ChaliceViewError:
                raise
            except Exception:
                log.exception("request failed", extra={"path": request.path})
                return _error(500, "InternalServerError", "An internal server error "
                              "occurred.", correlation)

    return scoped


def _current_request() -> Request:
    """The request of the route being served (Chalice sets it before calling a route)."""
    request = app.current_request
    if request is None:
        raise RuntimeError("no current request: called outside a route")
    return request


def _body_bytes(request: Request) -> bytes:
    """The request body as bytes (Chalice decodes base64 bodies; a text body is UTF-8)."""
    raw = request.raw_body or b""
    return raw if isinstance(raw, bytes) else raw.encode("utf-8")


@app.route("/orders", methods=["POST"])
@_request_scope
def create_order(correlation: str, log: Any) -> Response:
    """Validate the optional JSON body, store the order, publish Order.Created -> 201."""
    raw = _body_bytes(_current_request())
    if len(raw) > MAX_BODY_BYTES:
        return _error(413, "PayloadTooLarge", f"request body is {len(raw)} bytes; "
                      f"at most {MAX_BODY_BYTES} are accepted", correlation, field="body")
    try:
        body = parse_order_request(raw)
    except (RequestError, UnicodeDecodeError) as exc:
        field = getattr(exc, "field", "body")
        message = getattr(exc, "message", "is not UTF-8 text")
        log.info("order rejected", extra={"field": field, "reason": message})
        return _error(400, "BadRequest", f"{field}: {message}", correlation, field=field)

    order = new_order(body, order_id=str(uuid.uuid4()), created_at=utc_now())
    pk, sk = order_key(order["orderId"])
    table.put_new({"pk": pk, "sk": sk, **order, "correlationId": correlation})
    try:
        publisher.publish(OutgoingEvent("Order.Created", order, Meta(correlation)))
    except PublishError as exc:
        _compensate(order["orderId"], log, reason=str(exc))
        return _error(503, "ServiceUnavailable", "the order was not created: its "
                      "Order.Created event could not be published; retry later",
                      correlation, headers={"Retry-After": "5"})
    except Exception as exc:
        _compensate(order["orderId"], log, reason=repr(exc))
        raise
    observability.count(observability.ORDERS_CREATED)
    log.info("order created", extra={"order_id": order["orderId"]})
    return Response(body=order, status_code=201, headers={
        "Location": f"/orders/{order['orderId']}", "X-Correlation-Id": correlation})


def _compensate(order_id: str, log: Any, *, reason: str) -> None:
    """Delete an order whose Order.Created could not be published."""
    try:
        table.delete(*order_key(order_id))
    except Exception:
        log.exception("orphaned order: stored, event not published, delete failed",
                      extra={"order_id": order_id, "reason": reason})
        return
    log.error("order withdrawn: Order.Created not published",
              extra={"order_id": order_id, "reason": reason})


@app.route("/orders/{orderId}", methods=["GET"])
@_request_scope
def get_order(correlation: str, log: Any, orderId: str) -> Response:
    """The order -> 200; 400 for a malformed id, 404 for an unknown one."""
    if not _UUID.match(orderId):
        return _error(400, "BadRequest", "orderId: must be a lowercase UUID",
                      correlation, field="orderId")
    item = table.get(*order_key(orderId))
    if item is None:
        return _error(404, "NotFound", f"no order {orderId}", correlation)
    return Response(body=order_view(item), status_code=200,
                    headers={"X-Correlation-Id": correlation})


# --- subscriptions -------------------------------------------------------------------


@subscribe(app, detail_type="Delivery.Updated", name="on_delivery_updated")
def on_delivery_updated(event: Event) -> None:
    """Mark the order DELIVERED (once) and publish Order.Updated (until it succeeds)."""
    log = observability.logger()
    data = event.data
    order_id, delivery_id = data["order"]["orderId"], data["deliveryId"]
    held = claim(
        table, order_key(order_id), flag="orderUpdatedPublished", context=event.context,
        change={"status": "DELIVERED", "deliveredAt": data["deliveredAt"],
                "deliveryId": delivery_id, "updatedAt": utc_now()},
        when=Condition("attribute_exists(pk) AND #status = :created", {"created": "CREATED"}),
        resume_if=Condition("#deliveryId = :delivery", {"delivery": delivery_id}),
        refuse=functools.partial(_refuse, event, order_id, delivery_id))
    if held is None:
        log.info("duplicate Delivery.Updated ignored", extra={
            "order_id": order_id, "event_id": event.id})
        return
    if held.resumed:
        log.info("order already delivered, Order.Updated not yet published: publishing",
                 extra={"order_id": order_id})
    else:
        observability.count(observability.ORDERS_DELIVERED)
        log.info("order delivered", extra={"order_id": order_id, "delivery_id": delivery_id})
    with held:
        publisher.publish(OutgoingEvent("Order.Updated", order_view(held.item),
                                        event.follow_up_meta(APP_NAME)))


def _refuse(event: Event, order_id: str, delivery_id: str, item: dict[str, Any] | None) -> None:
    """A Delivery.Updated the order cannot take: for no order, or a different delivery."""
    if item is None:
        raise OrderNotFound(f"Delivery.Updated {event.id} for unknown order {order_id}")
    if item.get("deliveryId") != delivery_id:
        raise ConflictingDelivery(
            f"order {order_id} was delivered by {item.get('deliveryId')}, "
            f"Delivery.Updated {event.id} says {delivery_id}")
