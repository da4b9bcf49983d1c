"""What the running system refuses, and how it survives what goes wrong.

Publishers outside the topology or impersonating another service are refused by the
global bus's policy; a handler that raises is retried and then dead-lettered; malformed
requests get 4xx; in every case the rest of the system keeps flowing.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import botocore.exceptions
import pytest
from local_up_helpers import (
    DELIVERY_ACCOUNT,
    DELIVERY_BUS,
    EVENT_TIMEOUT,
    GLOBAL_BUS,
    GLOBAL_BUS_ARN,
    ORDER_ACCOUNT,
    OUTSIDE_ACCOUNT,
    Cloud,
    wait_until,
)

from infra_bootstrap import names

pytestmark = pytest.mark.integration

DELIVERY_DLQ = names.service_dlq("delivery-service")
DELIVERY_FUNCTION = names.lambda_function_name("delivery-service", "local", "on_order_created")


def _entry(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {"EventBusName": GLOBAL_BUS_ARN, "Source": source, "DetailType": detail_type,
            "Detail": json.dumps(detail)}


def _marker_detail(marker: str) -> dict[str, Any]:
    return {"data": {"marker": marker}, "meta": {"correlationId": marker}}


def _assert_never_logged(cloud: Cloud, marker: str) -> None:
    """``marker`` is absent from the global log once a later, legitimate order is in it."""
    order_id = cloud.post_order()
    wait_until(lambda: cloud.events_about(GLOBAL_BUS, order_id), EVENT_TIMEOUT,
               f"Order.Created of order {order_id} in the global log")
    assert cloud.events_about(GLOBAL_BUS, marker) == []


def test_an_account_outside_the_topology_cannot_publish_to_the_global_bus(cloud: Cloud) -> None:
    marker = str(uuid.uuid4())
    events = cloud.client(OUTSIDE_ACCOUNT, "events")

    response = events.put_events(Entries=[
        _entry("order-service", "Order.Created", _marker_detail(marker))])

    assert response["FailedEntryCount"] == 1
    [entry] = response["Entries"]
    assert entry["ErrorCode"] == "AccessDeniedException"
    assert entry["ErrorMessage"].startswith("User: arn:aws:")
    assert f"::{OUTSIDE_ACCOUNT}:" in entry["ErrorMessage"]
    assert f"on resource: {GLOBAL_BUS_ARN}" in entry["ErrorMessage"]
    assert "EventId" not in entry
    _assert_never_logged(cloud, marker)


def test_a_service_account_cannot_publish_another_services_source(cloud: Cloud) -> None:
    marker = str(uuid.uuid4())
    events = cloud.client(ORDER_ACCOUNT, "events")

    response = events.put_events(Entries=[
        _entry("delivery-service", "Delivery.Updated", _marker_detail(marker))])

    assert response["FailedEntryCount"] == 1
    assert response["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"
    _assert_never_logged(cloud, marker)


def test_a_failing_handler_is_retried_then_dead_lettered_and_the_rest_flows(
        cloud: Cloud) -> None:
    # An order the order service has stored (key and attributes as order_service/app.py
    # stores them) whose Order.Created breaks its schema: customerId is missing.
    order_id = str(uuid.uuid4())
    order = {"orderId": order_id, "status": "CREATED", "createdAt": "2030-01-01T00:00:00.000Z",
             "customerId": "c-broken", "items": []}
    cloud.client(ORDER_ACCOUNT, "dynamodb").put_item(
        TableName="order-service-state",
        Item={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "ORDER"},
              **{k: {"S": v} for k, v in order.items() if isinstance(v, str)},
              "items": {"L": []}})
    assert cloud.order_status(order_id) == "CREATED"
    broken = {k: v for k, v in order.items() if k != "customerId"}
    published = cloud.client(ORDER_ACCOUNT, "events").put_events(Entries=[_entry(
        "order-service", "Order.Created", {"data": broken, "meta": {"correlationId": order_id}})])
    assert published["FailedEntryCount"] == 0
    event_id = published["Entries"][0]["EventId"]

    sqs = cloud.client(DELIVERY_ACCOUNT, "sqs")
    queue_url = sqs.get_queue_url(QueueName=DELIVERY_DLQ)["QueueUrl"]

    def dead_lettered() -> dict[str, Any] | None:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            record = json.loads(message["Body"])
            if record.get("requestPayload", {}).get("id") == event_id:
                return record
        return None

    record = wait_until(dead_lettered, EVENT_TIMEOUT, f"event {event_id} in {DELIVERY_DLQ}")

    retries = cloud.client(DELIVERY_ACCOUNT, "lambda").get_function_event_invoke_config(
        FunctionName=DELIVERY_FUNCTION)["MaximumRetryAttempts"]
    context = record["requestContext"]
    assert context["condition"] == "RetriesExhausted"
    assert context["approximateInvokeCount"] == retries + 1
    assert context["functionArn"].startswith(
        f"arn:aws:lambda:eu-west-1:{DELIVERY_ACCOUNT}:function:{DELIVERY_FUNCTION}")
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "SchemaViolation"
    assert "customerId" in record["responsePayload"]["errorMessage"]
    assert record["requestPayload"]["detail"]["data"] == broken
    # The event did reach the delivery account; nothing came of it.
    assert [e["id"] for e in cloud.events_about(DELIVERY_BUS, order_id)] == [event_id]
    assert cloud.order_status(order_id) == "CREATED"
    # Everything else keeps flowing.
    cloud.wait_delivered(cloud.post_order())
    assert [e["id"] for e in cloud.events_about(GLOBAL_BUS, order_id)] == [event_id]


def test_malformed_requests_get_4xx_and_the_system_keeps_serving(cloud: Cloud) -> None:
    json_type = {"Content-Type": "application/json"}
    not_json = cloud.request("POST", "/orders", b"{not json", json_type)
    assert (not_json.status, not_json.body["Field"]) == (400, "body")
    bad_quantity = cloud.request("POST", "/orders", json.dumps(
        {"items": [{"sku": "BOOK-1", "quantity": 0}]}).encode(), json_type)
    assert bad_quantity.status == 400
    assert "quantity" in bad_quantity.body["Field"]
    wrong_type = cloud.request("POST", "/orders", b"customer=1",
                               {"Content-Type": "application/x-www-form-urlencoded"})
    assert wrong_type.status == 415
    oversized = cloud.request("POST", "/orders", json.dumps(
        {"customerId": "c", "pad": "x" * 20_000}).encode(), json_type)
    assert oversized.status == 413
    assert cloud.request("GET", "/orders/not-an-id").status == 400
    assert cloud.request("GET", f"/orders/{uuid.uuid4()}").status == 404

    events = cloud.client(ORDER_ACCOUNT, "events")
    with pytest.raises(botocore.exceptions.ClientError) as too_many:
        events.put_events(Entries=[_entry("order-service", "Order.Created", {})] * 11)
    assert too_many.value.response["Error"]["Code"] == "ValidationException"
    assert too_many.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    malformed = events.put_events(Entries=[{**_entry("order-service", "Order.Created", {}),
                                            "Detail": "[1, 2]"}])
    assert malformed["FailedEntryCount"] == 1
    assert malformed["Entries"][0]["ErrorCode"] == "MalformedDetail"

    cloud.wait_delivered(cloud.post_order({"customerId": "after-the-noise"}))
