"""Schemas, the envelope and the catalog of detail-types."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from backbone.catalog import EVENT_TYPES, event_type
from backbone.envelope import Meta, parse_event
from backbone.errors import MalformedEvent, SchemaViolation, UnknownEventType
from backbone.validation import SCHEMA_DIR, validate_detail


def example(detail_type: str) -> dict[str, Any]:
    return copy.deepcopy(dict(event_type(detail_type).example_detail))


def envelope(detail_type: str, detail: Any) -> dict[str, Any]:
    """An event exactly as EventBridge hands it to a Lambda target."""
    return {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": detail_type, "source": event_type(detail_type).source,
            "account": "222222222222", "time": "2025-01-01T12:00:00Z",
            "region": "eu-west-1", "resources": [], "detail": detail}


@pytest.mark.parametrize("entry", EVENT_TYPES, ids=lambda e: e.detail_type)
def test_every_catalog_example_matches_its_schema(entry: Any) -> None:
    validate_detail(entry.detail_type, entry.example_detail)
    assert (SCHEMA_DIR / entry.schema_file).is_file()


@pytest.mark.parametrize(("detail_type", "change", "field"), [
    ("Order.Created", lambda d: d["data"].pop("customerId"), "data.customerId"),
    ("Order.Created", lambda d: d["data"].update(status="DELIVERED"), "data.status"),
    ("Order.Created", lambda d: d["data"]["items"][0].update(quantity="2"),
     "data.items[0].quantity"),
    ("Order.Created", lambda d: d["meta"].pop("correlationId"), "meta.correlationId"),
    ("Delivery.Updated", lambda d: d["data"].update(extra=1), "data.extra"),
    ("Delivery.Updated", lambda d: d["data"]["order"].update(orderId="x"),
     "data.order.orderId"),
    ("Order.Updated", lambda d: d["data"].pop("deliveredAt"), "data.deliveredAt"),
])
def test_violations_name_the_field(detail_type: str, change: Any, field: str) -> None:
    detail = example(detail_type)
    change(detail)
    with pytest.raises(SchemaViolation) as raised:
        validate_detail(detail_type, detail)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{detail_type}: {field}: ")


def test_unknown_detail_type_is_refused() -> None:
    with pytest.raises(UnknownEventType):
        validate_detail("Order.Cancelled", {})


def test_parse_event_splits_data_and_meta() -> None:
    raw = envelope("Delivery.Updated", example("Delivery.Updated"))
    event = parse_event(raw)

    assert event.id == raw["id"] and event.account == "222222222222"
    assert event.data["deliveryId"] == raw["detail"]["data"]["deliveryId"]
    assert event.correlation_id == raw["detail"]["meta"]["correlationId"]
    follow = event.follow_up_meta("order-service")
    assert follow == Meta(correlation_id=event.correlation_id, causation_id=raw["id"],
                          producer="order-service")


def test_parse_event_refuses_what_is_not_an_eventbridge_event() -> None:
    with pytest.raises(MalformedEvent, match="missing detail-type"):
        parse_event({"id": "1", "source": "x", "detail": {}})
    with pytest.raises(MalformedEvent):
        parse_event(["not", "a", "mapping"])


def test_parse_event_checks_the_schema() -> None:
    detail = example("Order.Created")
    detail["data"]["items"] = [{"sku": "A", "quantity": 0}]
    with pytest.raises(SchemaViolation) as raised:
        parse_event(envelope("Order.Created", detail))
    assert raised.value.field == "data.items[0].quantity"


def test_schemas_are_never_fetched_from_elsewhere() -> None:
    from backbone.validation import compile_schema

    with pytest.raises(ValueError, match="outside backbone/schemas"):
        compile_schema({"$ref": "https://example.com/evil.json"})

