"""CloudWatch alarms: `create` makes them, `verify` checks them, `destroy` removes ours.

Against in-process moto, every account reached through STS AssumeRole; what the
assertions check is read back from CloudWatch in each account.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import load_stage
from tests.component.conftest import ApiCalls
from tests.component.test_bootstrap import cli
from tests.topologies import DELIVERY_SERVICE, ORDER_SERVICE, ROLE, stage_toml, write_topology

REGION = "eu-west-1"
BUS, ORDER, DELIVERY = "111111111111", "222222222222", "333333333333"
TAGS = {"backbone:project": "cross-account-backbone", "backbone:stage": "test"}
TOPIC = "arn:aws:sns:eu-west-1:444444444444:backbone-alarms"
FORWARD_DLQ_ALARM = "backbone-test-dlq-global-bus-forward-dlq"
# Every alarm `create` makes, by account: one per dead-letter queue, one per rule.
ALARMS = {
    BUS: {FORWARD_DLQ_ALARM,
          "backbone-test-failed-global-bus-log-all-events",
          "backbone-test-failed-global-bus-global-to-order-service",
          "backbone-test-failed-global-bus-global-to-delivery-service"},
    ORDER: {"backbone-test-dlq-order-service-handler-dlq",
            "backbone-test-failed-local-bus-order-service-log-all-events"},
    DELIVERY: {"backbone-test-dlq-delivery-service-handler-dlq",
               "backbone-test-failed-local-bus-delivery-service-log-all-events"},
}


def _cloudwatch(path: Path, account: str) -> Any:
    return AccountSessions(load_stage("test", path)).client(account, "cloudwatch")


def _alarms(path: Path, account: str) -> dict[str, dict[str, Any]]:
    return {a["AlarmName"]: a for a in _cloudwatch(path, account).describe_alarms()[
        "MetricAlarms"]}


def _tags(path: Path, account: str, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in _cloudwatch(path, account).list_tags_for_resource(
        ResourceARN=arn)["Tags"]}


def _dimensions(alarm: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


@pytest.fixture
def created(aws: None, topology_file: Path) -> Path:
    result = cli(topology_file, "create")
    assert result.exit_code == 0, result.output
    return topology_file


def test_create_makes_an_alarm_per_dead_letter_queue_and_rule_in_its_account(
        created: Path) -> None:
    for account, expected in ALARMS.items():
        assert set(_alarms(created, account)) == expected, account

    dlq = _alarms(created, ORDER)["backbone-test-dlq-order-service-handler-dlq"]
    assert (dlq["Namespace"], dlq["MetricName"], dlq["Statistic"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum")
    assert _dimensions(dlq) == {"QueueName": "order-service-handler-dlq"}
    assert _tags(created, ORDER, dlq["AlarmArn"]) == TAGS

    rule = _alarms(created, BUS)["backbone-test-failed-global-bus-global-to-order-service"]
    assert (rule["Namespace"], rule["MetricName"], rule["Statistic"]) == (
        "AWS/Events", "FailedInvocations", "Sum")
    assert _dimensions(rule) == {"EventBusName": "global-bus",
                                 "RuleName": "global-to-order-service"}
    assert _tags(created, BUS, rule["AlarmArn"]) == TAGS

    for alarm in (dlq, rule):
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["Threshold"],
                alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
            60, 1, 0.0, "GreaterThanThreshold", "notBreaching")
        # No topic in the topology: the alarms notify no one (and hold no actions).
        assert (alarm["AlarmActions"], alarm["OKActions"]) == ([], [])


def test_a_second_create_makes_no_call_that_changes_anything(created: Path,
                                                               api_calls: ApiCalls) -> None:
    result = cli(created, "create")

    assert result.exit_code == 0, result.output
    assert ("DescribeAlarms", {"AlarmNamePrefix": "backbone-test-"}) in api_calls.calls
    assert api_calls.mutating == []


def test_plan_json_shows_the_alarm_calls(aws: None, topology_file: Path) -> None:
    plan = json.loads(cli(topology_file, "plan", "--json").output)

    puts = [c for account in plan["accounts"] for c in account["calls"]
            if c["api"] == "cloudwatch:PutMetricAlarm"]
    assert sorted(c["params"]["AlarmName"] for c in puts) == sorted(
        name for names in ALARMS.values() for name in names)
    forward = next(c for c in puts if c["params"]["AlarmName"] == FORWARD_DLQ_ALARM)
    assert forward["account"] == BUS
    assert forward["params"]["Tags"] == [{"Key": k, "Value": v} for k, v in TAGS.items()]


def test_a_deleted_alarm_fails_verify_by_name_and_create_puts_it_back(created: Path) -> None:
    _cloudwatch(created, BUS).delete_alarms(AlarmNames=[FORWARD_DLQ_ALARM])

    report = cli(created, "verify", "--infra-only")

    assert report.exit_code == 1
    assert f"account {BUS}: create alarm {FORWARD_DLQ_ALARM} on AWS/SQS " \
           "ApproximateNumberOfMessagesVisible (QueueName=global-bus-forward-dlq) > 0" \
        in report.output
    repair = cli(created, "create")
    assert repair.exit_code == 0, repair.output
    assert FORWARD_DLQ_ALARM in _alarms(created, BUS)
    assert cli(created, "verify", "--infra-only").exit_code == 0


def test_an_alarm_changed_by_hand_is_drift_and_create_restores_it(created: Path) -> None:
    cloudwatch = _cloudwatch(created, ORDER)
    name = "backbone-test-dlq-order-service-handler-dlq"
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "order-service-handler-dlq"}],
        Statistic="Maximum", Period=300, EvaluationPeriods=1, Threshold=10,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
        AlarmActions=["arn:aws:sns:eu-west-1:222222222222:someone-else"])

    report = cli(created, "verify", "--infra-only")

    assert report.exit_code == 1
    [line] = [x for x in report.output.splitlines() if name in x]
    assert "period 60 (was 300)" in line
    assert "threshold 0.0 (was 10.0)" in line
    assert "alarm actions none (was arn:aws:sns:eu-west-1:222222222222:someone-else)" in line
    assert cli(created, "create").exit_code == 0
    alarm = _alarms(created, ORDER)[name]
    assert (alarm["Period"], alarm["Threshold"], alarm["AlarmActions"]) == (60, 0.0, [])
    assert _tags(created, ORDER, alarm["AlarmArn"]) == TAGS
    assert cli(created, "verify", "--infra-only").exit_code == 0


def test_the_stage_s_topic_is_notified_when_an_alarm_fires_and_clears(
        aws: None, tmp_path: Path) -> None:
    path = write_topology(tmp_path, stage_toml(
        "test", credentials=ROLE, alarm_topic_arn=TOPIC,
        services=[ORDER_SERVICE, DELIVERY_SERVICE]))

    assert cli(path, "create").exit_code == 0

    for account in ALARMS:
        for alarm in _alarms(path, account).values():
            assert (alarm["AlarmActions"], alarm["OKActions"]) == ([TOPIC], [TOPIC])
    assert cli(path, "verify", "--infra-only").exit_code == 0


def test_a_topic_in_another_region_is_a_topology_error(aws: None, tmp_path: Path) -> None:
    path = write_topology(tmp_path, stage_toml(
        "test", credentials=ROLE, services=[ORDER_SERVICE],
        alarm_topic_arn="arn:aws:sns:us-east-1:444444444444:backbone-alarms"))

    result = cli(path, "plan")

    assert result.exit_code == 2
    assert result.stderr.strip().endswith(
        "stages.test.alarm_topic_arn: the topic is in us-east-1, but CloudWatch alarms of "
        "this stage (region eu-west-1) can only notify a topic in eu-west-1")


def test_destroy_removes_every_alarm_of_the_stage_and_only_those(created: Path) -> None:
    # Someone's alarm of the same name as one of ours, in an account where we did not
    # make that one, and an alarm of their own beside ours.
    theirs = _cloudwatch(created, ORDER)
    for name in (FORWARD_DLQ_ALARM, "team-queue-depth"):
        theirs.put_metric_alarm(
            AlarmName=name, Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": "team-queue"}], Statistic="Maximum",
            Period=60, EvaluationPeriods=1, Threshold=5,
            ComparisonOperator="GreaterThanThreshold")

    result = cli(created, "destroy", "--yes")

    assert result.exit_code == 0, result.output
    assert _alarms(created, BUS) == {}
    assert _alarms(created, DELIVERY) == {}
    assert set(_alarms(created, ORDER)) == {FORWARD_DLQ_ALARM, "team-queue-depth"}
    assert _alarms(created, ORDER)[FORWARD_DLQ_ALARM]["Threshold"] == 5.0


def test_an_untagged_look_alike_is_a_conflict_create_refuses_and_destroy_leaves(
        aws: None, topology_file: Path) -> None:
    cloudwatch = _cloudwatch(topology_file, BUS)
    cloudwatch.put_metric_alarm(
        AlarmName=FORWARD_DLQ_ALARM, Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "global-bus-forward-dlq"}],
        Statistic="Average", Period=300, EvaluationPeriods=3, Threshold=100,
        ComparisonOperator="GreaterThanThreshold")

    refused = cli(topology_file, "create")

    assert refused.exit_code != 0
    assert f"CONFLICT {BUS} alarm {FORWARD_DLQ_ALARM}: exists, not owned by stage test" \
        in refused.output + refused.stderr
    assert _alarms(topology_file, ORDER) == {}, "create changed something before refusing"
    destroyed = cli(topology_file, "destroy", "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    [left] = _alarms(topology_file, BUS).values()
    assert (left["AlarmName"], left["Statistic"], left["Threshold"]) == (
        FORWARD_DLQ_ALARM, "Average", 100.0)
    assert _tags(topology_file, BUS, left["AlarmArn"]) == {}

    adopted = cli(topology_file, "create", f"--adopt={BUS}:alarm/{FORWARD_DLQ_ALARM}")

    assert adopted.exit_code == 0, adopted.output
    mine = _alarms(topology_file, BUS)[FORWARD_DLQ_ALARM]
    assert (mine["Statistic"], mine["Threshold"]) == ("Maximum", 0.0)
    assert _tags(topology_file, BUS, mine["AlarmArn"]) == TAGS
