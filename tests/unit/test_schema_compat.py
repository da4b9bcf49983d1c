"""Schema compatibility: which change breaks which side, and what passes."""

from __future__ import annotations

from typing import Any

import pytest

from infra_bootstrap.catalog_check import findings
from infra_bootstrap.schema_compat import NARROWED, WIDENED, Change, compare

ORDER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "orderId": {"type": "string", "description": "the order's id"},
        "status": {"type": "string", "enum": ["CREATED", "DELIVERED"]},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
        "items": {"type": "array", "items": {"type": "object",
                                             "properties": {"sku": {"type": "string"}}}},
        "note": {"type": "string"},
    },
    "required": ["orderId", "status"],
    "additionalProperties": False,
}


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    import copy

    changed = copy.deepcopy(ORDER)
    node = changed
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return changed


@pytest.mark.parametrize(("path", "value"), [
    (("description",), "an order"),
    (("title",), "Order"),
    (("properties", "orderId", "description"), "another description"),
    (("properties", "orderId", "examples"), ["4f8d2c3e"]),
    (("properties", "note", "$comment"), "free text"),
])
def test_annotation_only_changes_pass(path: tuple[str, ...], value: Any) -> None:
    assert compare(ORDER, _with(path, value)) == []


@pytest.mark.parametrize(("path", "value", "expected"), [
    (("properties", "orderId", "type"), "integer",
     [Change("orderId", "type string -> integer", WIDENED),
      Change("orderId", "type string -> integer", NARROWED)]),
    (("properties", "status", "enum"), ["CREATED", "DELIVERED", "CANCELLED"],
     [Change("status", 'value "CANCELLED" added', WIDENED)]),
    (("properties", "status", "enum"), ["CREATED"],
     [Change("status", 'value "DELIVERED" removed', NARROWED)]),
    (("properties", "quantity", "maximum"), 1000,
     [Change("quantity", "maximum 100 -> 1000", WIDENED)]),
    (("properties", "quantity", "minimum"), 2,
     [Change("quantity", "minimum 1 -> 2", NARROWED)]),
    (("properties", "note", "maxLength"), 10,
     [Change("note", "maxLength 10 added", NARROWED)]),
    (("properties", "note", "pattern"), "^[a-z]*$",
     [Change("note", "pattern added", NARROWED)]),
    (("required",), ["orderId", "status", "note"],
     [Change("note", "now required", NARROWED)]),
    (("required",), ["orderId"],
     [Change("status", "no longer required", WIDENED)]),
    (("properties", "note"), None,
     [Change("note", "removed; the new schema admits no other property", NARROWED)]),
    (("properties", "gift"), {"type": "boolean"},
     [Change("gift", "added; the old schema admits no other property", WIDENED)]),
    (("additionalProperties",), None,
     [Change("(detail)", "additionalProperties false removed", WIDENED)]),
    (("properties", "items", "items", "properties", "sku", "type"), "number",
     [Change("items[].sku", "type string -> number", WIDENED),
      Change("items[].sku", "type string -> number", NARROWED)]),
])
def test_breaking_changes_name_the_field_and_the_direction(
        path: tuple[str, ...], value: Any, expected: list[Change]) -> None:
    assert compare(ORDER, _with(path, value)) == expected


def test_integer_to_number_only_widens_and_number_to_integer_only_narrows() -> None:
    as_number = _with(("properties", "quantity", "type"), "number")

    assert [c.direction for c in compare(ORDER, as_number)] == [WIDENED]
    assert [c.direction for c in compare(as_number, ORDER)] == [NARROWED]


def test_a_property_added_to_an_open_object_narrows_what_it_used_to_accept() -> None:
    old = {"type": "object", "properties": {}}
    new = {"type": "object", "properties": {"traceparent": {"type": "string"}}}

    assert compare(old, new) == [Change("traceparent", "type any -> string", NARROWED)]
    documented = {"type": "object", "properties": {"traceparent": {"description": "W3C"}}}
    assert compare(old, documented) == []


def test_inside_not_the_directions_swap() -> None:
    old = {"not": {"required": ["deliveredAt"]}}
    new = {"not": {"required": ["deliveredAt", "deliveryId"]}}

    assert compare(old, new) == [Change("deliveryId", "now required", WIDENED)]


def test_only_subscribed_detail_types_are_checked_and_refs_are_followed() -> None:
    old_docs = {"order.json": ORDER,
                "created.json": {"properties": {"data": {"$ref": "order.json"}}},
                "updated.json": {"properties": {"data": {"$ref": "order.json"}}}}
    new_docs = {**old_docs, "order.json": _with(("properties", "orderId", "type"), "integer")}

    found = findings(old_docs, new_docs, {"Order.Created": "created.json",
                                          "Order.Updated": "updated.json"},
                     {"Order.Created": ["delivery-service.on_order_created"]})

    assert [str(f) for f in found] == [
        "Order.Created (subscribed by delivery-service.on_order_created): data.orderId: "
        "type string -> integer: new producer / old consumer: the new schema accepts "
        "events the old one rejects",
        "Order.Created (subscribed by delivery-service.on_order_created): data.orderId: "
        "type string -> integer: old producer / new consumer: the old schema accepts "
        "events the new one rejects"]


def test_a_detail_type_new_since_the_revision_has_nothing_to_break() -> None:
    docs = {"new.json": {"type": "object"}}

    assert findings({}, docs, {"Thing.Made": "new.json"}, {"Thing.Made": ["a.b"]}) == []
