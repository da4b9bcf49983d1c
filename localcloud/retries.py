"""EventBridge's RetryPolicy and dead-letter queues, for deliveries that failed.

Source: EventBridge User Guide, "Event retry policy and using dead-letter queues"
(rule-dlq.html): retriable errors are retried with exponential back off until
MaximumRetryAttempts or MaximumEventAgeInSeconds; permission and missing-resource errors
go to the DLQ without retries. The DLQ message is the event, with attributes RULE_ARN,
TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, RETRY_ATTEMPTS and EXHAUSTED_RETRY_CONDITION.

>>> plan = next_attempt({"MaximumRetryAttempts": 2}, retries=2, age_s=0.0, retriable=True,
...                     backoff_base_s=1.0, backoff_cap_s=300.0)
>>> plan
Exhausted(condition='MaximumRetryAttempts')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from localcloud import arns
from localcloud.delivery import Delivery, DeliveryFailure
from localcloud.queues import QueueSender

# EventBridge's default RetryPolicy: 24 hours and up to 185 attempts, exponential back off
# with jitter (rule-dlq.html).
EB_DEFAULT_MAX_RETRIES = 185
EB_DEFAULT_MAX_AGE_S = 86400


@dataclass(frozen=True)
class RetryIn:
    """Retry after ``delay_s`` AWS seconds."""

    delay_s: float


@dataclass(frozen=True)
class Exhausted:
    """No retry: the DLQ's EXHAUSTED_RETRY_CONDITION (None when the error is not
    retriable, so no retry was ever due)."""

    condition: str | None


def next_attempt(retry_policy: Mapping[str, Any] | None, *, retries: int, age_s: float,
                 retriable: bool, backoff_base_s: float, backoff_cap_s: float
                 ) -> RetryIn | Exhausted:
    """What follows a failed attempt, per the target's RetryPolicy. Pure.

    Back-off is exponential from ``backoff_base_s``, capped at ``backoff_cap_s``, without
    jitter; a retry that would come after MaximumEventAgeInSeconds is not made.

    >>> next_attempt(None, retries=3, age_s=10.0, retriable=True, backoff_base_s=1.0,
    ...              backoff_cap_s=300.0)
    RetryIn(delay_s=8.0)
    >>> next_attempt(None, retries=0, age_s=0.0, retriable=False, backoff_base_s=1.0,
    ...              backoff_cap_s=300.0)
    Exhausted(condition=None)
    """
    if not retriable:
        return Exhausted(None)
    policy = retry_policy or {}
    max_retries = int(policy.get("MaximumRetryAttempts", EB_DEFAULT_MAX_RETRIES))
    max_age = float(policy.get("MaximumEventAgeInSeconds", EB_DEFAULT_MAX_AGE_S))
    delay = min(backoff_cap_s, backoff_base_s * 2 ** retries)
    if retries >= max_retries:
        return Exhausted("MaximumRetryAttempts")
    if age_s + delay > max_age:
        return Exhausted("MaximumEventAgeInSeconds")
    return RetryIn(delay)


def dlq_attributes(*, rule_arn: str, target_arn: str, failure: DeliveryFailure,
                   retry_attempts: int, exhausted: str | None) -> dict[str, str]:
    """Message attributes of an EventBridge dead-letter message (rule-dlq.html).

    >>> from localcloud.delivery import NO_RESOURCE
    >>> sorted(dlq_attributes(rule_arn="r", target_arn="t", retry_attempts=0, exhausted=None,
    ...        failure=DeliveryFailure(NO_RESOURCE, "gone")))
    ['ERROR_CODE', 'ERROR_MESSAGE', 'RETRY_ATTEMPTS', 'RULE_ARN', 'TARGET_ARN']
    """
    attributes = {"RULE_ARN": rule_arn, "TARGET_ARN": target_arn, "ERROR_CODE": failure.code,
                  "ERROR_MESSAGE": failure.message, "RETRY_ATTEMPTS": str(retry_attempts)}
    if exhausted:
        attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
    return attributes


class DeadLetters:
    """Sends undeliverable events to their target's DeadLetterConfig queue, as EventBridge
    does (the queue's policy must let EventBridge send for the rule)."""

    def __init__(self, queues: QueueSender) -> None:
        self.queues = queues

    def send(self, delivery: Delivery, failure: DeliveryFailure, exhausted: str | None) -> bool:
        """True once dead-lettered; False when the target has no DLQ. Raises
        DeliveryFailure or ValueError when the DLQ cannot take the message."""
        dlq = (delivery.target.get("DeadLetterConfig") or {}).get("Arn")
        if not dlq:
            return False
        attributes = dlq_attributes(rule_arn=delivery.rule_arn, target_arn=delivery.target_arn,
                                    failure=failure, retry_attempts=delivery.retries,
                                    exhausted=exhausted)
        self.queues.send_as_eventbridge(arns.parse(dlq), delivery.event.raw,
                                        rule_arn=delivery.rule_arn,
                                        rule_account=delivery.rule_account,
                                        attributes=attributes)
        return True
