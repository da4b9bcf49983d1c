"""The pure parts of the operator's toolkit: dead letters, redrive plans, the trace tree."""

from __future__ import annotations

import json

from infra_bootstrap.operate import trace
from infra_bootstrap.operate.deadletters import (
    BUS,
    EVENTBRIDGE,
    FUNCTION,
    LAMBDA,
    UNKNOWN,
    parse_message,
)
from infra_bootstrap.operate.records import LoggedEvent
from infra_bootstrap.operate.redrive import plan_action, put_events_entry

BUS_ARN = "arn:aws:events:eu-west-1:222222222222:event-bus/local-bus-order-service"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:222222222222:function:order-service-local-on_x"
EVENT = {"id": "e2", "detail-type": "Delivery.Updated", "source": "delivery-service",
         "account": "333333333333", "time": "2026-01-01T00:00:00Z", "resources": [],
         "detail": {"data": {"order": {"orderId": "o1"}},
                    "meta": {"correlationId": "c1", "causationId": "e1"}}}


def _attributes(**values: str) -> dict[str, dict[str, str]]:
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}


def test_an_eventbridge_dead_letter_names_its_error_and_the_bus_it_failed_to_reach() -> None:
    letter = parse_message("111111111111", "global-bus-forward-dlq", "url", {
        "MessageId": "m1", "ReceiptHandle": "r1", "Body": json.dumps(EVENT),
        "MessageAttributes": _attributes(
            ERROR_CODE="CROSS_ACCOUNT_INGESTION_FAILED", ERROR_MESSAGE="denied",
            RULE_ARN="arn:aws:events:eu-west-1:111111111111:rule/global-bus/global-to-x",
            TARGET_ARN=BUS_ARN, RETRY_ATTEMPTS="0")})

    assert (letter.origin, letter.error, letter.message) == (
        EVENTBRIDGE, "CROSS_ACCOUNT_INGESTION_FAILED", "denied")
    assert (letter.event_id, letter.correlation_id, letter.entity_id) == ("e2", "c1", "o1")
    assert letter.destination is not None and letter.destination.kind == BUS
    assert plan_action(letter) == f"PutEvents on {BUS_ARN}"


def test_a_lambda_invocation_record_is_redriven_to_its_function_without_qualifier() -> None:
    record = {"version": "1.0", "timestamp": "2026-01-01T00:00:01Z",
              "requestContext": {"requestId": "q", "functionArn": FUNCTION_ARN + ":$LATEST",
                                 "condition": "RetriesExhausted", "approximateInvokeCount": 3},
              "requestPayload": EVENT,
              "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
              "responsePayload": {"errorType": "OrderNotFound", "errorMessage": "no o1"}}
    letter = parse_message("222222222222", "order-service-handler-dlq", "url",
                           {"MessageId": "m", "ReceiptHandle": "r", "Body": json.dumps(record)})

    assert (letter.origin, letter.error, letter.message) == (
        LAMBDA, "RetriesExhausted: OrderNotFound", "no o1")
    assert letter.event == EVENT and letter.attempts == "3"
    assert letter.destination is not None and letter.destination.kind == FUNCTION
    assert plan_action(letter) == f"Invoke (Event) {FUNCTION_ARN}"


def test_a_message_nobody_dead_lettered_is_kept_with_nowhere_to_go() -> None:
    letter = parse_message("1", "q", "url", {"MessageId": "m", "ReceiptHandle": "r",
                                             "Body": "hello"})

    assert letter.origin == UNKNOWN and letter.destination is None
    assert plan_action(letter) is None


def test_a_redriven_forward_keeps_source_type_detail_resources_and_time() -> None:
    entry = put_events_entry(EVENT, BUS_ARN)

    assert entry["EventBusName"] == BUS_ARN
    assert (entry["Source"], entry["DetailType"]) == ("delivery-service", "Delivery.Updated")
    assert json.loads(entry["Detail"]) == EVENT["detail"]
    assert entry["Time"].isoformat() == "2026-01-01T00:00:00+00:00"
    assert "id" not in entry and "Account" not in entry


def _logged(bus: str, event_id: str, ms: int, cause: str | None = None,
            correlation: str = "c1") -> LoggedEvent:
    meta = {"correlationId": correlation, **({"causationId": cause} if cause else {})}
    event = {"id": event_id, "detail-type": f"T{event_id}", "source": "s", "account": "2",
             "detail": {"data": {"orderId": f"o-{correlation}"}, "meta": meta}}
    return LoggedEvent(bus, "1", event, ms, f"{bus}-{event_id}", json.dumps(event))


def test_trace_selects_the_whole_chain_by_any_of_its_ids_and_nests_by_cause() -> None:
    logged = [_logged("global-bus", "e1", 100), _logged("local-a", "e1", 110),
              _logged("global-bus", "e2", 300, cause="e1"), _logged("local-b", "e2", 320),
              _logged("global-bus", "x1", 200, correlation="other")]

    for key in ("c1", "e2", "o-c1"):
        chain = trace.select(logged, key)
        assert {e.event_id for e in chain} == {"e1", "e2"}, key
    [root] = trace.build(trace.select(logged, "c1"), [])

    assert (root.event_id, [h.bus for h in root.hops]) == ("e1", ["global-bus", "local-a"])
    assert [(c.event_id, [h.at_ms for h in c.hops]) for c in root.children] == [
        ("e2", [300, 320])]
    lines = trace.render([root])
    assert lines[-2].split()[:2] == ["+200", "ms"] and "(+190 ms after its cause)" in lines[-2]
    assert lines[-1].split()[:2] == ["+220", "ms"] and lines[-1].endswith("(+20 ms)")
