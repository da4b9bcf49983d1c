"""The planner: a pure diff of desired and actual resources into ordered API calls."""

from __future__ import annotations

import dataclasses
from typing import Any

import botocore
import botocore.session
import pytest
from botocore.validate import ParamValidator

from infra_bootstrap import names
from infra_bootstrap import resources as r
from infra_bootstrap.desired import desired_resources
from infra_bootstrap.executor import CUSTOM_WAITERS
from infra_bootstrap.planner import WAIT_PREFIX, Call, destroy_plan, mutating, normalize, plan
from infra_bootstrap.resources import Resource
from infra_bootstrap.topology import load_stage

BUS = "111111111111"
TAGS = names.tags("test")


def _desired() -> list[Resource]:
    return desired_resources(dataclasses.replace(load_stage("local"), name="test"))


def _as_actual(resource: Resource) -> Resource:
    """What the reader reports for a resource that is exactly as desired."""
    extra: dict[str, Any] = {}
    if resource.kind == r.SQS_QUEUE:
        extra["url"] = f"https://sqs.eu-west-1.amazonaws.com/{resource.account}/{resource.name}"
    if resource.kind in {r.EVENT_BUS, r.RULE, r.LOG_GROUP, r.DYNAMODB_TABLE}:
        extra["arn"] = f"arn:for:{resource.name}"
    if resource.kind == r.DYNAMODB_TABLE:
        extra["billing_mode"] = "PAY_PER_REQUEST"
    return dataclasses.replace(resource, props={**resource.props, **extra})


def _up_to_date() -> list[Resource]:
    return [_as_actual(x) for x in _desired()]


def _replace(resources: list[Resource], key: tuple[str, str, str], **props: Any) -> list[Resource]:
    return [dataclasses.replace(x, props={**x.props, **props}) if x.key == key else x
            for x in resources]


def _ops(calls: list[Call]) -> list[str]:
    return [c.operation for c in calls]


def _index(calls: list[Call], operation: str, **params: Any) -> int:
    for i, call in enumerate(calls):
        if call.operation == operation and all(call.params.get(k) == v
                                               for k, v in params.items()):
            return i
    raise AssertionError(f"no {operation} {params} in {_ops(calls)}")


FORWARD_RULE = (r.RULE, BUS, "global-bus/global-to-order-service")


def test_nothing_to_do_when_actual_equals_desired() -> None:
    assert plan(_desired(), _up_to_date(), stage="test") == []


def test_create_from_nothing_respects_dependencies() -> None:
    calls = plan(_desired(), [], stage="test")

    forward_targets = _index(calls, "put_targets", Rule="global-to-order-service")
    assert _index(calls, "create_role", RoleName="backbone-forward-to-order-service") \
        < forward_targets
    assert _index(calls, "create_queue", QueueName="global-bus-forward-dlq") < forward_targets
    assert _index(calls, "create_event_bus", Name="local-bus-order-service") < forward_targets
    assert _index(calls, "create_event_bus", Name="global-bus") \
        < _index(calls, "put_rule", Name="global-to-order-service") < forward_targets
    assert _index(calls, "create_log_group",
                  logGroupName="/aws/events/backbone/global-bus") \
        < _index(calls, "put_targets", Rule="log-all-events", EventBusName="global-bus")
    assert _index(calls, "create_event_bus", Name="global-bus") \
        < _index(calls, "create_archive")
    assert _index(calls, "create_table", TableName="order-service-state") \
        < _index(calls, "wait:table_exists", TableName="order-service-state") \
        < _index(calls, "update_time_to_live", TableName="order-service-state")


def test_create_calls_carry_tags_and_exact_boto3_params() -> None:
    calls = plan(_desired(), [], stage="test")

    create_bus = calls[_index(calls, "create_event_bus", Name="global-bus")]
    assert create_bus.params["Tags"] == [{"Key": k, "Value": v} for k, v in TAGS.items()]
    assert create_bus.api_name == "events:CreateEventBus"
    put_rule = calls[_index(calls, "put_rule", Name="global-to-order-service")]
    assert put_rule.params == {
        "Name": "global-to-order-service", "EventBusName": "global-bus",
        "EventPattern": '{"source":[{"anything-but":"order-service"}]}', "State": "ENABLED",
        "Description": "Events of other services to order-service's local bus",
        "Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()]}
    queue = calls[_index(calls, "create_queue", QueueName="global-bus-forward-dlq")]
    assert queue.params["tags"] == TAGS
    assert set(queue.params["Attributes"]) == {"Policy", "MessageRetentionPeriod"}


def test_waiters_are_not_mutating() -> None:
    calls = plan(_desired(), [], stage="test")

    assert [c.operation for c in calls if not c.mutating] == [
        "wait:table_exists", "wait:continuous_backups_enabled"] * 2
    assert len(mutating(calls)) == len(calls) - 4


def test_point_in_time_recovery_waits_for_backups_to_be_available() -> None:
    calls = plan(_desired(), [], stage="test")

    assert _index(calls, "wait:table_exists", TableName="order-service-state") \
        < _index(calls, "wait:continuous_backups_enabled", TableName="order-service-state") \
        < _index(calls, "update_continuous_backups", TableName="order-service-state")


def test_pattern_drift_is_an_in_place_put_rule_without_tags() -> None:
    actual = _replace(_up_to_date(), FORWARD_RULE, pattern={"source": ["x"]})

    [call] = plan(_desired(), actual, stage="test")

    assert call.operation == "put_rule"
    assert "Tags" not in call.params
    assert call.params["EventPattern"] == '{"source":[{"anything-but":"order-service"}]}'
    assert "pattern" in call.description


def test_missing_and_extra_targets_are_put_and_removed() -> None:
    desired_target = next(x for x in _desired() if x.key == FORWARD_RULE).props["targets"][0]
    foreign = {"Id": "spy", "Arn": "arn:aws:sqs:eu-west-1:999999999999:spy"}
    actual = _replace(_up_to_date(), FORWARD_RULE, targets=(foreign,))

    calls = plan(_desired(), actual, stage="test")

    assert _ops(calls) == ["put_targets", "remove_targets"]
    assert calls[0].params["Targets"] == [desired_target]
    assert calls[1].params == {"Rule": "global-to-order-service", "EventBusName": "global-bus",
                               "Ids": ["spy"]}


def test_retry_policy_drift_puts_the_target_again() -> None:
    target = next(x for x in _desired() if x.key == FORWARD_RULE).props["targets"][0]
    changed = {**target, "RetryPolicy": {"MaximumRetryAttempts": 0,
                                         "MaximumEventAgeInSeconds": 60}}
    actual = _replace(_up_to_date(), FORWARD_RULE, targets=(changed,))

    assert _ops(plan(_desired(), actual, stage="test")) == ["put_targets"]


def test_widened_bus_policy_is_replaced() -> None:
    key = (r.EVENT_BUS, BUS, "global-bus")
    wide = {"Version": "2012-10-17", "Statement": [
        {"Sid": "all", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents",
         "Resource": "*"}]}
    actual = _replace(_up_to_date(), key, policy=wide)

    remove, put = plan(_desired(), actual, stage="test")

    assert remove.params == {"EventBusName": "global-bus", "StatementId": "all"}
    assert put.operation == "put_permission"
    assert put.params["EventBusName"] == "global-bus"


def test_a_policy_without_statement_ids_is_removed_whole_before_ours_is_put() -> None:
    key = (r.EVENT_BUS, BUS, "global-bus")
    actual = _replace(_up_to_date(), key, policy={"Statement": [{"Effect": "Allow"}]})

    remove, put = plan(_desired(), actual, stage="test")

    assert remove.params == {"EventBusName": "global-bus", "RemoveAllPermissions": True}
    assert put.operation == "put_permission"


def test_retention_and_tag_drift() -> None:
    key = (r.LOG_GROUP, BUS, "/aws/events/backbone/global-bus")
    actual = [dataclasses.replace(x, props={**x.props, "retention_days": None}, tags={})
              if x.key == key else x for x in _up_to_date()]

    calls = plan(_desired(), actual, stage="test")

    assert _ops(calls) == ["put_retention_policy", "tag_resource"]
    assert calls[0].params == {"logGroupName": "/aws/events/backbone/global-bus",
                               "retentionInDays": 7}
    assert calls[1].params == {"resourceArn": "arn:for:/aws/events/backbone/global-bus",
                               "tags": TAGS}


def test_archive_source_change_recreates_and_retention_change_updates() -> None:
    key = (r.ARCHIVE, BUS, "global-bus-archive")
    moved = _replace(_up_to_date(), key, source_arn="arn:aws:events:eu-west-1:1:event-bus/x")
    shorter = _replace(_up_to_date(), key, retention_days=1)

    assert _ops(plan(_desired(), moved, stage="test")) == ["delete_archive", "create_archive"]
    assert _ops(plan(_desired(), shorter, stage="test")) == ["update_archive"]


def test_equivalent_policies_compare_equal() -> None:
    ours = {"Statement": [{"Action": ["sqs:SendMessage"],
                           "Condition": {"ArnEquals": {"aws:SourceArn": ["a", "b"]}}}]}
    aws_form = {"Statement": {"Action": "sqs:SendMessage",
                              "Condition": {"ArnEquals": {"AWS:SourceArn": ["b", "a"]}}}}

    assert normalize(ours) == normalize(aws_form)


def test_only_owned_resources_are_deleted_in_reverse_dependency_order() -> None:
    ours = _up_to_date()
    foreign_bus = Resource(r.EVENT_BUS, BUS, "someone-elses-bus", {"policy": None, "arn": "x"},
                           {"team": "payments"})
    other_stage = Resource(r.RULE, BUS, "global-bus/prod-rule", {
        "bus": "global-bus", "rule": "prod-rule", "targets": ()}, names.tags("prod"))

    calls = destroy_plan([*ours, foreign_bus, other_stage], stage="test")

    deleted = {c.params.get("Name") for c in calls if c.operation == "delete_event_bus"}
    assert deleted == {"global-bus", "local-bus-order-service", "local-bus-delivery-service"}
    assert "prod-rule" not in {c.params.get("Name") for c in calls}
    remove = _index(calls, "remove_targets", Rule="global-to-order-service")
    assert remove < _index(calls, "delete_rule", Name="global-to-order-service") \
        < _index(calls, "delete_event_bus", Name="global-bus") \
        < _index(calls, "delete_queue") \
        < _index(calls, "delete_role", RoleName="backbone-forward-to-order-service")
    assert _index(calls, "delete_archive") < _index(calls, "delete_event_bus", Name="global-bus")
    assert _index(calls, "delete_role_policy",
                  RoleName="backbone-forward-to-order-service") \
        < _index(calls, "delete_role", RoleName="backbone-forward-to-order-service")


def test_a_removed_service_is_swept_but_nothing_else() -> None:
    stage = dataclasses.replace(load_stage("local"), name="test")
    smaller = dataclasses.replace(stage, services=stage.services[:1])

    calls = plan(desired_resources(smaller), _up_to_date(), stage="test")
    deletes = [c for c in calls if c.operation.startswith("delete_")]

    assert {c.resource for c in deletes} == {
        "rule global-bus/global-to-delivery-service",
        "IAM role backbone-forward-to-delivery-service",
        "event bus local-bus-delivery-service",
        "rule local-bus-delivery-service/log-all-events",
        "log group /aws/events/backbone/local-bus-delivery-service",
        "SQS queue delivery-service-handler-dlq",
        "DynamoDB table delivery-service-state",
        "Logs resource policy backbone-eventbridge-to-event-logs",
    }
    updated = {c.resource for c in calls
               if c.operation in {"put_permission", "set_queue_attributes"}}
    assert updated == {"event bus global-bus", "SQS queue global-bus-forward-dlq"}


def test_an_untagged_resource_with_our_name_is_adopted_not_recreated() -> None:
    key = (r.EVENT_BUS, BUS, "global-bus")
    actual = [dataclasses.replace(x, tags={}) if x.key == key else x for x in _up_to_date()]

    calls = plan(_desired(), actual, stage="test")

    assert _ops(calls) == ["tag_resource"]


@pytest.mark.parametrize(("operation", "service", "api"), [
    ("put_function_event_invoke_config", "lambda", "lambda:PutFunctionEventInvokeConfig"),
    ("wait:table_exists", "dynamodb", "dynamodb:TableExists"),
    ("create_role", "iam", "iam:CreateRole"),
])
def test_api_names_for_messages(operation: str, service: str, api: str) -> None:
    assert Call("1", service, operation, {}, "", "x").api_name == api


# --- Every call as botocore's model defines it --------------------------------------------


def _drifted(resource: Resource) -> Resource:
    """``resource`` with every managed property off and its tags gone: the largest update."""
    off: dict[str, Any] = {"policy": {"Statement": [{"Sid": "x", "Effect": "Allow"}]},
                           "document": {"Statement": []}, "trust": {"Statement": []},
                           "pattern": {"source": ["x"]}, "policies": {"old": {}},
                           "retention_days": 1, "description": "old", "attributes": {},
                           "targets": ({"Id": "old", "Arn": "arn:old"},),
                           "ttl_attribute": None, "billing_mode": "PROVISIONED",
                           "point_in_time_recovery": not resource.props.get(
                               "point_in_time_recovery"),
                           "maximum_retry_attempts": 0, "principal": "s3.amazonaws.com"}
    props = {**resource.props, "arn": f"arn:for:{resource.name}",
             **{k: v for k, v in off.items() if k in resource.props}}
    return dataclasses.replace(resource, props=props,
                               tags=None if resource.tags is None else {})


def _subscriptions() -> list[Resource]:
    from infra_bootstrap.subscribe import desired_subscriptions

    @dataclasses.dataclass(frozen=True)
    class Sub:
        name: str
        event_pattern: dict[str, Any]

    stage = dataclasses.replace(load_stage("local"), name="test")
    service = stage.service("delivery-service")
    arn = names.lambda_function_arn(stage.region, service.account, "delivery-service-test-f")
    return desired_subscriptions(stage, service, [Sub("f", {"source": ["order-service"]})],
                                 {"f": arn})


def _every_kind_of_call() -> list[Call]:
    infra, subs = _desired(), _subscriptions()
    return [
        *plan(infra, [], stage="test"),
        *plan(infra, [_drifted(x) for x in _up_to_date()], stage="test"),
        *destroy_plan(_up_to_date(), stage="test"),
        *plan(subs, [], stage="test", kinds=r.SUBSCRIPTION_KINDS),
        *plan(subs, [_drifted(x) for x in subs], stage="test", kinds=r.SUBSCRIPTION_KINDS),
        *destroy_plan([dataclasses.replace(x, props={**x.props, "arn": "arn:x"}) for x in subs],
                      stage="test", kinds=r.SUBSCRIPTION_KINDS),
    ]


_BOTOCORE = botocore.session.get_session()


def _input_shape(call: Call) -> Any:
    session = _BOTOCORE
    model = session.get_service_model(call.service)
    if call.operation.startswith(WAIT_PREFIX):
        waiter = "".join(part.capitalize() for part in
                         call.operation.removeprefix(WAIT_PREFIX).split("_"))
        custom = CUSTOM_WAITERS.get(call.service, {}).get("waiters", {})
        operation = (custom[waiter]["operation"] if waiter in custom else
                     session.get_waiter_model(call.service).get_waiter(waiter).operation)
    else:
        [operation] = [o for o in model.operation_names
                       if botocore.xform_name(o) == call.operation]
    return model.operation_model(operation).input_shape


def test_every_planned_call_matches_botocore_s_model() -> None:
    calls = _every_kind_of_call()
    # Creates, every kind of update, deletes: each operation of the planner is here.
    assert {"create_role", "update_assume_role_policy", "delete_role_policy", "tag_role",
            "set_queue_attributes", "tag_queue", "put_retention_policy", "update_table",
            "update_continuous_backups", "put_permission", "remove_permission",
            "update_archive", "put_rule", "put_targets", "remove_targets", "delete_rule",
            "add_permission", "put_function_event_invoke_config",
            "delete_function_event_invoke_config", "wait:table_exists",
            "wait:continuous_backups_enabled"} <= {c.operation for c in calls}

    problems = []
    for call in calls:
        report = ParamValidator().validate(dict(call.params), _input_shape(call))
        if report.has_errors():
            problems.append(f"{call.api_name}: {report.generate_report()}")
    assert problems == []
