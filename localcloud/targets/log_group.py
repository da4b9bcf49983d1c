"""CloudWatch Logs log group targets, written as EventBridge writes them.

A log group target is written only if a Logs resource policy of the log group's account
lets events.amazonaws.com do logs:CreateLogStream and logs:PutLogEvents (EventBridge User
Guide, "Using resource-based policies for Amazon EventBridge", CloudWatch Logs
permissions); with no such policy nothing is written. Each action is evaluated with the
context EventBridge sends with it (LOGS_CALLS), on the log stream's ARN (the resource
that policies written as ``log-group:<name>:*`` match).

>>> import json
>>> create = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
...           "Action": "logs:CreateLogStream", "Resource": "*"}
>>> put = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
...        "Action": "logs:PutLogEvents", "Resource": "*",
...        "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:r:1:rule/b/r"}}}
>>> logs_policies_allow([json.dumps({"Statement": [create, put]})], stream_arn="s",
...                     rule_arn="arn:aws:events:r:1:rule/b/r", rule_account="1")
True
>>> both = dict(put, Action=["logs:CreateLogStream", "logs:PutLogEvents"])
>>> logs_policies_allow([json.dumps({"Statement": [both]})], stream_arn="s",
...                     rule_arn="arn:aws:events:r:1:rule/b/r", rule_account="1")
False
"""

from __future__ import annotations

from collections.abc import Sequence

from localcloud import arns
from localcloud.arns import Arn
from localcloud.cache import BoundedCache
from localcloud.delivery import NO_PERMISSIONS, NO_RESOURCE, Delivery, DeliveryFailure, payload
from localcloud.permissions import EVENTS_PRINCIPAL, service_allowed
from localcloud.state import CloudState
from localcloud.targets.base import TargetKind

# One log stream per log group, written by the data plane (see docs/local-cloud.md).
LOG_STREAM = "eventbridge-local"

# The request context EventBridge gives CloudWatch Logs for each call of a log-group
# delivery: the rule ARN (and its account) with PutLogEvents only, nothing with
# CreateLogStream. A policy that conditions CreateLogStream on aws:SourceArn lets no event
# through. Source: aws-samples/serverless-patterns, eventbridge-cloudwatch/template.yaml,
# PR #618 ("The conditional ARN for the Rule only applies to logs:PutLogEvents"); which
# keys go with PutLogEvents: EventBridge User Guide, "Using IAM policy conditions in
# Amazon EventBridge" (aws:SourceArn, and aws:SourceAccount for the rule's account).
LOGS_CALLS: tuple[tuple[str, bool], ...] = (
    ("logs:CreateLogStream", False),   # (action, with aws:SourceArn / aws:SourceAccount)
    ("logs:PutLogEvents", True),
)


def logs_policies_allow(policies: Sequence[str], *, stream_arn: str, rule_arn: str,
                        rule_account: str) -> bool:
    """Do the account's Logs resource policies let EventBridge create the stream and put
    the event, each call with the request context EventBridge gives it (LOGS_CALLS)?"""
    return all(
        any(service_allowed(p, action=action, resource=stream_arn,
                            source_arn=rule_arn if with_source else None,
                            source_account=rule_account if with_source else None)
            for p in policies)
        for action, with_source in LOGS_CALLS)


class LogGroupTarget(TargetKind):
    """Writes the event JSON (or the target's Input) as one log event."""

    name = "log group"

    def __init__(self, state: CloudState, cache_size: int = 4096) -> None:
        self.state = state
        self._decisions = BoundedCache(cache_size)

    def accepts(self, arn: Arn) -> bool:
        return arn.service == "logs" and arn.resource.startswith("log-group:")

    def deliver(self, delivery: Delivery, arn: Arn) -> bool:
        message = payload(delivery)
        group = arns.log_group_name(arn)
        if not self.state.log_group_exists(arn.region, arn.account, group):
            raise DeliveryFailure(NO_RESOURCE, f"log group {group} does not exist")
        stream_arn = arns.log_stream(arn.region, arn.account, group, LOG_STREAM)
        policies = self.state.logs_resource_policies(arn.region, arn.account)
        rule_arn, rule_account = delivery.rule_arn, delivery.rule_account
        allowed = self._decisions.memo(
            (stream_arn, rule_arn, rule_account, policies),
            lambda: logs_policies_allow(policies, stream_arn=stream_arn, rule_arn=rule_arn,
                                        rule_account=rule_account))
        if not allowed:
            raise DeliveryFailure(NO_PERMISSIONS, "no CloudWatch Logs resource policy lets "
                                  f"{EVENTS_PRINCIPAL} write to {group}")
        self.state.append_log_event(arn.region, arn.account, group, LOG_STREAM, message)
        return True
