"""POST /orders and GET /orders/{orderId} of order-service, against moto."""

from __future__ import annotations

import json
import re
from typing import Any

from chalice.test import Client

from backbone.errors import PublishError, UnpublishedEvent

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
JSON = {"Content-Type": "application/json"}
FULL_ORDER = {
    "customerId": "customer-42",
    "items": [{"sku": "BOOK-123", "quantity": 2}],
    "deliveryAddress": {"line1": "1 Main Street", "city": "Dublin",
                        "postalCode": "D01 X2Y3", "country": "IE"},
}


def post(client: Client, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    return client.http.post("/orders", headers=headers if headers is not None else JSON,
                            body=raw)


def test_bare_post_creates_an_order_with_defaults_and_publishes_order_created(
        order_client: Client, backbone: Any) -> None:
    # curl -X POST sends neither a body nor a Content-Type.
    response = post(order_client, headers={})

    assert response.status_code == 201
    order = response.json_body
    assert UUID.match(order["orderId"])
    assert order["status"] == "CREATED"
    assert order["customerId"] == "anonymous"
    assert order["items"] == []
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", order["createdAt"])
    assert response.headers["Location"] == f"/orders/{order['orderId']}"

    [event] = backbone.published()
    assert event["source"] == "order-service"
    assert event["detail-type"] == "Order.Created"
    assert event["detail"]["data"] == order
    assert event["detail"]["meta"]["correlationId"] == response.headers["X-Correlation-Id"]
    assert event["detail"]["meta"]["producer"] == "order-service"


def test_full_body_is_stored_and_readable(order_client: Client, backbone: Any) -> None:
    created = post(order_client, FULL_ORDER, {**JSON, "X-Correlation-Id": "req-77"})
    assert created.status_code == 201
    order_id = created.json_body["orderId"]

    fetched = order_client.http.get(f"/orders/{order_id}")

    assert fetched.status_code == 200
    assert fetched.json_body == {**FULL_ORDER, "orderId": order_id, "status": "CREATED",
                                 "createdAt": created.json_body["createdAt"]}
    [event] = backbone.published()
    assert event["detail"]["meta"]["correlationId"] == "req-77"
    assert event["detail"]["data"]["items"] == [{"sku": "BOOK-123", "quantity": 2}]


def test_malformed_json_is_400_naming_the_body(order_client: Client, backbone: Any) -> None:
    response = post(order_client, '{"customerId": ')

    assert response.status_code == 400
    assert response.json_body["Code"] == "BadRequest"
    assert response.json_body["Field"] == "body"
    assert "not valid JSON" in response.json_body["Message"]
    assert backbone.published() == []


def test_non_object_json_is_400(order_client: Client, backbone: Any) -> None:
    response = post(order_client, "[1, 2]")

    assert response.status_code == 400
    assert response.json_body["Field"] == "body"
    assert "must be a JSON object" in response.json_body["Message"]


def test_schema_violations_are_400_naming_the_field(order_client: Client,
                                                     backbone: Any) -> None:
    cases = {
        "items[0].quantity": {"items": [{"sku": "A", "quantity": 0}]},
        "items[1].sku": {"items": [{"sku": "A", "quantity": 1}, {"quantity": 1}]},
        "customerId": {"customerId": 42},
        "deliveryAddress.country": {"deliveryAddress": {
            "line1": "x", "city": "y", "postalCode": "z", "country": "Ireland"}},
        "colour": {"colour": "red"},
    }
    for field, body in cases.items():
        response = post(order_client, body)
        assert response.status_code == 400, field
        assert response.json_body["Field"] == field, response.json_body
        assert response.json_body["Message"].startswith(f"{field}: ")
    assert backbone.published() == []


def test_non_json_content_type_is_415(order_client: Client, backbone: Any) -> None:
    response = post(order_client, "customerId=1",
                    {"Content-Type": "application/x-www-form-urlencoded"})

    assert response.status_code == 415
    assert response.json_body["Code"] == "UnsupportedMediaType"
    assert backbone.published() == []


def test_oversized_body_is_413(order_client: Client, order_module: Any,
                               backbone: Any) -> None:
    padding = "x" * order_module.MAX_BODY_BYTES
    response = post(order_client, json.dumps({"customerId": padding}))

    assert response.status_code == 413
    assert response.json_body["Code"] == "PayloadTooLarge"
    assert backbone.published() == []


def test_get_unknown_order_is_404(order_client: Client, backbone: Any) -> None:
    response = order_client.http.get("/orders/4f8d2c3e-8a1b-4c5d-9e6f-7a8b9c0d1e2f")

    assert response.status_code == 404
    assert response.json_body["Code"] == "NotFound"


def test_get_malformed_id_is_400(order_client: Client, backbone: Any) -> None:
    response = order_client.http.get("/orders/not-a-uuid")

    assert response.status_code == 400
    assert response.json_body["Field"] == "orderId"


def test_publish_failure_withdraws_the_order_and_answers_503(
        order_client: Client, order_module: Any, backbone: Any,
        monkeypatch: Any) -> None:
    def failing_publish(*events: Any) -> list[str]:
        raise PublishError((UnpublishedEvent("Order.Created", "c", "InternalFailure", "x"),),
                           (), attempts=4)

    monkeypatch.setattr(order_module.publisher, "publish", failing_publish)

    response = post(order_client, FULL_ORDER)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    # Nothing left behind: the compensating delete removed the stored order.
    assert backbone.table("order-service").scan()["Items"] == []


def test_an_unexpected_error_is_500_and_its_log_line_has_the_correlation_id(
        order_client: Client, order_module: Any, backbone: Any, monkeypatch: Any,
        capsys: Any) -> None:
    def broken_store(item: Any) -> bool:
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(order_module.table, "put_new", broken_store)
    capsys.readouterr()

    response = post(order_client, FULL_ORDER, {**JSON, "X-Correlation-Id": "req-500"})

    assert response.status_code == 500
    assert response.json_body["Code"] == "InternalServerError"
    assert response.headers["X-Correlation-Id"] == "req-500"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [failure] = [line for line in lines if line.get("level") == "ERROR"]
    assert "DynamoDB is down" in failure["exception"]
    assert all(line["correlation_id"] == "req-500" for line in lines if "level" in line)
    assert backbone.published() == []


def test_json_nested_1000_levels_is_400_naming_the_body(order_client: Client,
                                                        backbone: Any) -> None:
    response = post(order_client, '{"items": ' + "[" * 1000 + "]" * 1000 + "}")

    assert response.status_code == 400
    assert response.json_body["Field"] == "body"
    assert "nests deeper than 32 levels" in response.json_body["Message"]
    assert backbone.published() == []


def test_a_lone_surrogate_in_customer_id_is_400_naming_the_field(order_client: Client,
                                                                 backbone: Any) -> None:
    response = post(order_client, '{"customerId": "c-\\ud800"}')

    assert response.status_code == 400
    assert response.json_body["Field"] == "customerId"
    assert "lone surrogate" in response.json_body["Message"]
    assert backbone.published() == []


def test_a_body_that_is_not_utf8_is_400_naming_the_body(order_client: Client,
                                                       backbone: Any) -> None:
    response = order_client.http.post("/orders", headers=JSON,
                                      body=b'{"customerId": "\xff"}')

    assert response.status_code == 400
    assert response.json_body["Field"] == "body"
    assert "not UTF-8" in response.json_body["Message"]
