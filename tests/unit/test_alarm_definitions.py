"""The alarms of a stage: one per dead-letter queue and per rule, each in its account."""

from __future__ import annotations

import dataclasses

from infra_bootstrap import alarms, names
from infra_bootstrap import resources as r
from infra_bootstrap.calls import create_calls, update_calls
from infra_bootstrap.desired import desired_resources
from infra_bootstrap.topology import Stage, load_stage

BUS, ORDER = "111111111111", "222222222222"
TOPIC = "arn:aws:sns:eu-west-1:444444444444:backbone-alarms"


def _stage(**overrides: object) -> Stage:
    return dataclasses.replace(load_stage("local"), name="test", **overrides)


def test_every_queue_and_rule_of_the_stage_has_its_alarm_in_the_same_account() -> None:
    resources = desired_resources(_stage())
    watched = {(x.account, x.name) for x in resources if x.kind == r.SQS_QUEUE} | {
        (x.account, f"{x.props['bus']}/{x.props['rule']}") for x in resources
        if x.kind == r.RULE}
    alarmed = set()
    for alarm in (x for x in resources if x.kind == r.ALARM):
        dims = alarm.props["dimensions"]
        alarmed.add((alarm.account, dims["QueueName"] if "QueueName" in dims
                     else f"{dims['EventBusName']}/{dims['RuleName']}"))

    assert alarmed == watched
    assert len(watched) == 8


def test_a_dead_letter_alarm_fires_on_the_first_visible_message() -> None:
    alarm = alarms.dlq_alarm(_stage(), ORDER, "order-service-handler-dlq")

    assert alarms.put_params(alarm) == {
        "AlarmName": "backbone-test-dlq-order-service-handler-dlq",
        "AlarmDescription": alarm.props["description"],
        "ActionsEnabled": True, "OKActions": [], "AlarmActions": [],
        "InsufficientDataActions": [],
        "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": "order-service-handler-dlq"}],
        "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
    }
    assert alarm.tags == names.tags("test")


def test_a_rule_alarm_counts_failed_invocations_of_that_rule_on_its_bus() -> None:
    alarm = alarms.rule_alarm(_stage(), BUS, "global-bus", "global-to-order-service")
    params = alarms.put_params(alarm)

    assert alarm.kind == r.ALARM
    assert (params["Namespace"], params["MetricName"], params["Statistic"]) == (
        "AWS/Events", "FailedInvocations", "Sum")
    assert params["Dimensions"] == [{"Name": "EventBusName", "Value": "global-bus"},
                                    {"Name": "RuleName", "Value": "global-to-order-service"}]


def test_a_subscription_rule_s_alarm_is_subscribe_s_to_manage() -> None:
    alarm = alarms.rule_alarm(_stage(), ORDER, "local-bus-order-service", "sub-on_x")

    assert alarm.kind == r.SUBSCRIPTION_ALARM
    assert alarm.name.startswith(names.subscription_alarm_prefix("test"))


def test_the_stage_s_topic_is_told_when_an_alarm_fires_and_when_it_clears() -> None:
    alarm = alarms.dlq_alarm(_stage(alarm_topic_arn=TOPIC), ORDER, "q")

    assert (alarm.props["alarm_actions"], alarm.props["ok_actions"]) == ([TOPIC], [TOPIC])
    assert alarm.props["insufficient_data_actions"] == []


def test_names_stay_within_cloudwatch_s_limit_for_the_longest_stage_service_and_rule() -> None:
    stage, service, rule = "s" * 20, "x" * 40, "sub-" + "y" * 60
    longest = [names.dlq_alarm_name(stage, names.service_dlq(service)),
               names.rule_alarm_name(stage, names.local_bus(service), rule),
               names.subscription_alarm_name(stage, names.local_bus(service), rule)]

    assert max(len(n) for n in longest) <= names.ALARM_NAME_MAX


def test_an_alarm_as_described_is_up_to_date_and_a_changed_one_is_rewritten() -> None:
    want = alarms.dlq_alarm(_stage(), ORDER, "q")
    described = {"AlarmName": want.name, **alarms.put_params(want)}
    read = dataclasses.replace(want, props={**alarms.settings_of(described), "arn": "arn:x"})

    assert update_calls(want, read, "test") == []
    changed = dataclasses.replace(read, props={**read.props, "threshold": 3.0,
                                               "alarm_actions": [TOPIC]})
    [call] = update_calls(want, changed, "test")
    assert call.operation == "put_metric_alarm"
    assert "Tags" not in call.params  # PutMetricAlarm ignores Tags on an existing alarm
    assert call.description == (f"set threshold 0.0 (was 3.0); alarm actions none (was "
                                f"{TOPIC}) of alarm backbone-test-dlq-q")


def test_an_untagged_alarm_of_the_stage_is_tagged_without_rewriting_it() -> None:
    want = alarms.dlq_alarm(_stage(), ORDER, "q")
    described = {"AlarmName": want.name, **alarms.put_params(want)}
    read = dataclasses.replace(want, props={**alarms.settings_of(described), "arn": "arn:x"},
                               tags={})

    [call] = update_calls(want, read, "test")

    assert (call.operation, call.params) == ("tag_resource", {
        "ResourceARN": "arn:x",
        "Tags": [{"Key": k, "Value": v} for k, v in names.tags("test").items()]})
    [create] = create_calls(want)
    assert create.params["Tags"] == call.params["Tags"]
