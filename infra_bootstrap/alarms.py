"""The CloudWatch alarms of a stage: what each one watches and when it fires. Pure.

Two alarms signal that an event did not arrive, each in the account and region of what
it watches:

- a **dead-letter queue** holds a message: ``AWS/SQS`` ``ApproximateNumberOfMessagesVisible``
  (dimension ``QueueName``), Maximum over 60 s above 0. A queue holding messages is an
  active queue, and SQS publishes the metrics of active queues every minute (Amazon SQS
  Developer Guide, "Available CloudWatch metrics for Amazon SQS").
- a **rule** failed to deliver: ``AWS/Events`` ``FailedInvocations``, Sum over 60 s
  above 0. Dimensions ``EventBusName`` and ``RuleName``: "Metrics that specify both the
  EventBusName and RuleName dimensions refer to a custom event bus" (EventBridge User
  Guide, "Monitoring Amazon EventBridge", EventBridge metrics:
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html), and every
  rule of the stage is on a custom bus. "EventBridge only sends this metric to CloudWatch
  if it isn't zero" (same page), hence ``TreatMissingData=notBreaching``: no data is the
  normal, healthy case, not an unknown one.

Both evaluate one period, so the first dead letter or failed delivery raises the alarm
within about a minute. With the stage's ``alarm_topic_arn``, an alarm notifies that topic
when it fires (AlarmActions) and again when it clears (OKActions), so whoever is paged
also learns that the queue was drained.

>>> from infra_bootstrap.topology import load_stage
>>> alarm = dlq_alarm(load_stage("local"), "111111111111", "global-bus-forward-dlq")
>>> alarm.name, alarm.props["dimensions"]
('backbone-local-dlq-global-bus-forward-dlq', {'QueueName': 'global-bus-forward-dlq'})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra_bootstrap import names
from infra_bootstrap import resources as r
from infra_bootstrap.resources import Resource
from infra_bootstrap.topology import Stage

PERIOD_SECONDS = 60
EVALUATION_PERIODS = 1
THRESHOLD = 0.0
COMPARISON = "GreaterThanThreshold"
TREAT_MISSING_DATA = "notBreaching"
SQS_NAMESPACE = "AWS/SQS"
SQS_METRIC = "ApproximateNumberOfMessagesVisible"
EVENTS_NAMESPACE = "AWS/Events"
EVENTS_METRIC = "FailedInvocations"
# What an alarm's props hold, each compared as is with what DescribeAlarms reports.
SETTINGS = ("namespace", "metric", "dimensions", "statistic", "period",
            "evaluation_periods", "datapoints_to_alarm", "threshold", "comparison",
            "treat_missing_data", "actions_enabled", "alarm_actions", "ok_actions",
            "insufficient_data_actions", "description")


def dlq_alarm(stage: Stage, account: str, queue: str) -> Resource:
    """The alarm raised while dead letters wait in ``queue`` (of ``account``)."""
    return _alarm(stage, r.ALARM, account, names.dlq_alarm_name(stage.name, queue), {
        "namespace": SQS_NAMESPACE, "metric": SQS_METRIC, "dimensions": {"QueueName": queue},
        "statistic": "Maximum",
        "description": f"Dead letters wait in SQS queue {queue}: `python -m infra_bootstrap "
                       f"dlq show {queue} --stage {stage.name}`, then `dlq redrive`",
    })


def rule_alarm(stage: Stage, account: str, bus: str, rule: str) -> Resource:
    """The alarm raised when ``rule`` on ``bus`` fails to deliver an event for good.

    A subscription rule's alarm (``sub-...``) is a :data:`resources.SUBSCRIPTION_ALARM`:
    `subscribe` makes it with its rule.

    >>> from infra_bootstrap.topology import load_stage
    >>> rule_alarm(load_stage("local"), "222222222222", "local-bus-order-service",
    ...            "sub-on_x").label
    'alarm backbone-local-subscription-local-bus-order-service-sub-on_x'
    """
    subscription = rule.startswith(names.SUBSCRIPTION_RULE_PREFIX)
    kind, name = ((r.SUBSCRIPTION_ALARM, names.subscription_alarm_name(stage.name, bus, rule))
                  if subscription else
                  (r.ALARM, names.rule_alarm_name(stage.name, bus, rule)))
    return _alarm(stage, kind, account, name, {
        "namespace": EVENTS_NAMESPACE, "metric": EVENTS_METRIC,
        "dimensions": {"EventBusName": bus, "RuleName": rule}, "statistic": "Sum",
        "description": f"Rule {rule} on {bus} failed to deliver events (after every "
                       "retry, or without a dead-letter queue to take them)",
    })


def _alarm(stage: Stage, kind: str, account: str, name: str,
           watched: Mapping[str, Any]) -> Resource:
    actions = [stage.alarm_topic_arn] if stage.alarm_topic_arn else []
    return Resource(kind, account, name, {
        **watched,
        "period": PERIOD_SECONDS, "evaluation_periods": EVALUATION_PERIODS,
        "datapoints_to_alarm": None, "threshold": THRESHOLD, "comparison": COMPARISON,
        "treat_missing_data": TREAT_MISSING_DATA, "actions_enabled": True,
        "alarm_actions": actions, "ok_actions": actions, "insufficient_data_actions": [],
    }, names.tags(stage.name))


def alarms_for(stage: Stage, resources: list[Resource]) -> list[Resource]:
    """An alarm for every dead-letter queue and every rule among ``resources``.

    Every queue the stage makes is a dead-letter queue (``desired.py``).
    """
    out = []
    for x in resources:
        if x.kind == r.SQS_QUEUE:
            out.append(dlq_alarm(stage, x.account, x.name))
        elif x.kind in {r.RULE, r.SUBSCRIPTION_RULE}:
            out.append(rule_alarm(stage, x.account, x.props["bus"], x.props["rule"]))
    return out


def settings_of(described: Mapping[str, Any]) -> dict[str, Any]:
    """The props of an alarm as DescribeAlarms reports it (one ``MetricAlarms`` item).

    >>> settings_of({"AlarmName": "a", "Dimensions": [{"Name": "QueueName", "Value": "q"}],
    ...              "Threshold": 0})["dimensions"]
    {'QueueName': 'q'}
    """
    return {
        "namespace": described.get("Namespace"), "metric": described.get("MetricName"),
        "dimensions": {d["Name"]: d["Value"] for d in described.get("Dimensions", [])},
        "statistic": described.get("Statistic"), "period": described.get("Period"),
        "evaluation_periods": described.get("EvaluationPeriods"),
        "datapoints_to_alarm": described.get("DatapointsToAlarm"),
        "threshold": float(described.get("Threshold", 0.0)),
        "comparison": described.get("ComparisonOperator"),
        "treat_missing_data": described.get("TreatMissingData"),
        "actions_enabled": described.get("ActionsEnabled", True),
        "alarm_actions": list(described.get("AlarmActions", [])),
        "ok_actions": list(described.get("OKActions", [])),
        "insufficient_data_actions": list(described.get("InsufficientDataActions", [])),
        "description": described.get("AlarmDescription", ""),
    }


def differences(want: Mapping[str, Any], have: Mapping[str, Any]) -> list[str]:
    """The settings of ``have`` that differ from ``want``, described.

    >>> from infra_bootstrap.topology import load_stage
    >>> want = dlq_alarm(load_stage("local"), "1", "q").props
    >>> differences(want, {**want, "threshold": 5.0})
    ['threshold 0.0 (was 5.0)']
    """
    out = []
    for key in SETTINGS:
        mine, theirs = want.get(key), have.get(key)
        if isinstance(mine, list) and isinstance(theirs, list):
            same = sorted(mine) == sorted(theirs)
        else:
            same = mine == theirs
        if not same:
            out.append(f"{key.replace('_', ' ')} {_shown(mine)} (was {_shown(theirs)})")
    return out


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def put_params(alarm: Resource) -> dict[str, Any]:
    """The PutMetricAlarm parameters of ``alarm`` (without Tags).

    PutMetricAlarm "completely overwrites the previous configuration of the alarm" on an
    update (CloudWatch API reference, PutMetricAlarm), so every setting is always sent.
    """
    p = alarm.props
    params: dict[str, Any] = {
        "AlarmName": alarm.name, "AlarmDescription": p["description"],
        "ActionsEnabled": p["actions_enabled"], "OKActions": list(p["ok_actions"]),
        "AlarmActions": list(p["alarm_actions"]),
        "InsufficientDataActions": list(p["insufficient_data_actions"]),
        "MetricName": p["metric"], "Namespace": p["namespace"], "Statistic": p["statistic"],
        "Dimensions": [{"Name": k, "Value": v} for k, v in p["dimensions"].items()],
        "Period": p["period"], "EvaluationPeriods": p["evaluation_periods"],
        "Threshold": p["threshold"], "ComparisonOperator": p["comparison"],
        "TreatMissingData": p["treat_missing_data"],
    }
    if p.get("datapoints_to_alarm") is not None:
        params["DatapointsToAlarm"] = p["datapoints_to_alarm"]
    return params
