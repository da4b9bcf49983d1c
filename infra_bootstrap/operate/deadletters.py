"""Dead letters: what failed, why, and where a redrive sends it back. Pure.

Two kinds of message reach the stage's queues:

- EventBridge's: a rule's target failed past its retry policy. The body is the event;
  the message attributes ``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``,
  ``RETRY_ATTEMPTS`` (and ``EXHAUSTED_RETRY_CONDITION``) say what failed. Source:
  EventBridge User Guide, "Using dead-letter queues to process undelivered events"
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
- Lambda's: an asynchronous invocation failed past its retries; its on-failure
  destination gets the invocation record ``{requestContext: {functionArn, condition,
  approximateInvokeCount}, requestPayload: <the event>, responsePayload: {errorType,
  errorMessage}}``. Source: Lambda Developer Guide, "Capturing records of Lambda
  asynchronous invocations"
  (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).

>>> letter = parse_message("333333333333", "q", "https://q", {"MessageId": "m",
...     "ReceiptHandle": "r", "Body": '{"id": "e1", "detail-type": "Order.Created"}',
...     "MessageAttributes": {"ERROR_CODE": {"StringValue": "NO_PERMISSIONS"},
...         "TARGET_ARN": {"StringValue":
...             "arn:aws:events:eu-west-1:333333333333:event-bus/local-bus-x"}}})
>>> (letter.origin, letter.error, letter.destination.kind)
('eventbridge', 'NO_PERMISSIONS', 'bus')
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra_bootstrap.names import InvalidArn, event_bus_of, parse_arn
from infra_bootstrap.operate.records import entity_of, meta_of

EVENTBRIDGE = "eventbridge"
LAMBDA = "lambda"
UNKNOWN = "unknown"
BUS = "bus"
FUNCTION = "function"


@dataclass(frozen=True)
class Destination:
    """Where a dead letter failed to go: an event bus or a Lambda function (an ARN)."""

    kind: str
    arn: str


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter queue, parsed."""

    account: str
    queue: str
    queue_url: str
    message_id: str
    receipt_handle: str
    origin: str  # EVENTBRIDGE, LAMBDA or UNKNOWN
    event: Mapping[str, Any]  # the event that failed ({} if the body holds none)
    error: str  # ERROR_CODE, or Lambda's "<condition>: <errorType>"
    message: str  # ERROR_MESSAGE, or Lambda's errorMessage
    destination: Destination | None
    rule_arn: str | None = None
    attempts: str | None = None

    @property
    def event_id(self) -> str:
        return str(self.event.get("id", ""))

    @property
    def detail_type(self) -> str:
        return str(self.event.get("detail-type", "?"))

    @property
    def correlation_id(self) -> str | None:
        value = meta_of(self.event).get("correlationId")
        return str(value) if value else None

    @property
    def entity_id(self) -> str | None:
        return entity_of(self.event)

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, "queue": self.queue, "messageId": self.message_id,
                "origin": self.origin, "error": self.error, "errorMessage": self.message,
                "eventId": self.event_id, "detailType": self.detail_type,
                "correlationId": self.correlation_id,
                "destination": (None if self.destination is None else
                                {"kind": self.destination.kind,
                                 "arn": self.destination.arn}),
                "ruleArn": self.rule_arn, "event": dict(self.event)}


def _attribute(message: Mapping[str, Any], name: str) -> str | None:
    value = (message.get("MessageAttributes") or {}).get(name)
    if isinstance(value, Mapping) and value.get("StringValue") is not None:
        return str(value["StringValue"])
    return None


def destination_of(arn: str | None) -> Destination | None:
    """An event bus or Lambda function ARN as a Destination; None for anything else.

    >>> destination_of("arn:aws:lambda:eu-west-1:2:function:f:$LATEST")
    Destination(kind='function', arn='arn:aws:lambda:eu-west-1:2:function:f:$LATEST')
    >>> destination_of("arn:aws:sqs:eu-west-1:2:q") is None
    True
    """
    if not arn:
        return None
    if event_bus_of(arn) is not None:
        return Destination(BUS, arn)
    try:
        parsed = parse_arn(arn)
    except InvalidArn:
        return None
    if parsed.service == "lambda" and parsed.resource.startswith("function:"):
        return Destination(FUNCTION, arn)
    return None


def parse_message(account: str, queue: str, queue_url: str,
                  message: Mapping[str, Any]) -> DeadLetter:
    """An SQS message of a dead-letter queue (ReceiveMessage, all attributes) parsed."""
    body = str(message.get("Body", ""))
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    common = {"account": account, "queue": queue, "queue_url": queue_url,
              "message_id": str(message.get("MessageId", "")),
              "receipt_handle": str(message.get("ReceiptHandle", ""))}
    code = _attribute(message, "ERROR_CODE")
    if code is not None or _attribute(message, "RULE_ARN") is not None:
        return DeadLetter(
            **common, origin=EVENTBRIDGE, event=parsed if isinstance(parsed, dict) else {},
            error=code or "?", message=_attribute(message, "ERROR_MESSAGE") or "",
            destination=destination_of(_attribute(message, "TARGET_ARN")),
            rule_arn=_attribute(message, "RULE_ARN"),
            attempts=_attribute(message, "RETRY_ATTEMPTS"))
    if isinstance(parsed, dict) and isinstance(parsed.get("requestContext"), Mapping):
        context = parsed["requestContext"]
        response = parsed.get("responsePayload")
        response = response if isinstance(response, Mapping) else {}
        payload = parsed.get("requestPayload")
        condition = str(context.get("condition", "?"))
        error_type = response.get("errorType")
        return DeadLetter(
            **common, origin=LAMBDA, event=payload if isinstance(payload, dict) else {},
            error=f"{condition}: {error_type}" if error_type else condition,
            message=str(response.get("errorMessage", "")),
            destination=destination_of(str(context.get("functionArn", ""))),
            attempts=(str(context["approximateInvokeCount"])
                      if "approximateInvokeCount" in context else None))
    return DeadLetter(**common, origin=UNKNOWN,
                      event=parsed if isinstance(parsed, dict) else {},
                      error="(not a dead letter EventBridge or Lambda wrote)",
                      message=body[:200], destination=None)


def group_by_error(letters: Iterable[DeadLetter]) -> dict[tuple[str, str], list[DeadLetter]]:
    """Dead letters grouped by (error, message), the largest group first.

    >>> a = DeadLetter("1", "q", "u", "m1", "r", "lambda", {}, "RetriesExhausted: E", "x", None)
    >>> b = DeadLetter("1", "q", "u", "m2", "r", "lambda", {}, "NO_PERMISSIONS", "y", None)
    >>> [(key[0], len(v)) for key, v in group_by_error([a, b, a]).items()]
    [('RetriesExhausted: E', 2), ('NO_PERMISSIONS', 1)]
    """
    groups: dict[tuple[str, str], list[DeadLetter]] = {}
    for letter in letters:
        groups.setdefault((letter.error, letter.message), []).append(letter)
    return dict(sorted(groups.items(), key=lambda item: -len(item[1])))
