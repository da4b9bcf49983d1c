"""One delivery of one event to one rule target, and how it can fail.

Failures are typed: :class:`DeliveryFailure` carries the error code EventBridge writes in
the ``ERROR_CODE`` attribute of a dead-letter message and whether EventBridge retries it.
Source: EventBridge User Guide, "Using dead-letter queues to process undelivered events"
(rule-dlq.html): missing permissions and missing resources are not retried, they go to the
DLQ directly; connection failures are retried.

>>> from localcloud.envelope import RoutedEvent
>>> event = RoutedEvent({"id": "e-1", "detail": {"order": 7}}, '{"id":"e-1"}')
>>> payload(Delivery(event, "arn:rule", "1", {"Arn": "t", "InputPath": "$.detail"}))
'{"order":7}'
>>> payload(Delivery(event, "arn:rule", "1", {"Arn": "t", "InputPath": "$.nope"}))
Traceback (most recent call last):
...
localcloud.delivery.DeliveryFailure: INVALID_JSON: InputPath $.nope does not match the event
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from localcloud.envelope import RoutedEvent
from localcloud.errors import LocalCloudError

# ERROR_CODE values EventBridge documents for DLQ messages (rule-dlq.html).
NO_RESOURCE = "NO_RESOURCE"
NO_PERMISSIONS = "NO_PERMISSIONS"
CONNECTION_FAILURE = "CONNECTION_FAILURE"
FAILED_TO_ASSUME_ROLE = "FAILED_TO_ASSUME_ROLE"
CROSS_ACCOUNT_INGESTION_FAILED = "CROSS_ACCOUNT_INGESTION_FAILED"
THIRD_ACCOUNT_HOP_DETECTED = "THIRD_ACCOUNT_HOP_DETECTED"
INVALID_PARAMETER = "INVALID_PARAMETER"
INVALID_JSON = "INVALID_JSON"
INTERNAL_ERROR = "INTERNAL_ERROR"


class DeliveryFailure(LocalCloudError):
    """A target could not be delivered to.

    ``retriable`` follows rule-dlq.html: permission and missing-resource errors are not
    retried; connection failures are.
    """

    def __init__(self, code: str, message: str, *, retriable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retriable = retriable


@dataclass
class Delivery:
    """One event on its way to one target of one matched rule; ``retries`` counts the
    EventBridge retries so far, ``started`` is when the first attempt began;
    ``chaos_decided``: ``--chaos`` already delayed or duplicated it (localcloud.chaos)."""

    event: RoutedEvent
    rule_arn: str
    rule_account: str
    target: Mapping[str, Any]
    retries: int = 0
    started: float = field(default_factory=time.monotonic)
    chaos_decided: bool = False

    @property
    def target_arn(self) -> str:
        return str(self.target.get("Arn", ""))


class DeliveryReport(Protocol):
    """Where a target kind that completes later (Lambda) reports what became of a delivery."""

    def delivered(self, delivery: Delivery) -> None:
        """The target took the event."""

    def failed(self, delivery: Delivery, failure: DeliveryFailure) -> None:
        """EventBridge could not deliver: its RetryPolicy and dead-letter queue apply."""

    def count(self, stat: str, amount: int = 1) -> None:
        """Add to one of the data plane's statistics."""

    def record(self, delivery: Delivery, code: str, message: str) -> None:
        """Keep a failure for ``/_local/stats`` and the log."""


def payload(delivery: Delivery) -> str:
    """What the target receives: the event JSON, or the target's Input / InputPath.

    Source: API Reference, Target (Input: "Valid JSON text passed to the target";
    InputPath: "The value of the JSONPath that is used for extracting part of the
    matched event"). InputTransformer is not supported locally.
    """
    target = delivery.target
    if target.get("InputTransformer"):
        raise DeliveryFailure(INVALID_PARAMETER, "InputTransformer is not supported "
                              "by the local cloud")
    if target.get("Input") is not None:
        return str(target["Input"])
    path = target.get("InputPath")
    if path:
        value: Any = delivery.event.envelope
        for part in path.removeprefix("$").strip(".").split("."):
            if not part:
                continue
            if not isinstance(value, Mapping) or part not in value:
                raise DeliveryFailure(INVALID_JSON, f"InputPath {path} does not "
                                      "match the event")
            value = value[part]
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return delivery.event.raw
