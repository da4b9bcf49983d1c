"""The planner: a pure diff of desired and actual resources into ordered API calls,
conflicts for same-named resources the stage does not own."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import botocore
import botocore.session
import pytest
from botocore.validate import ParamValidator

from infra_bootstrap import names
from infra_bootstrap import resources as r
from infra_bootstrap.desired import desired_resources
from infra_bootstrap.executor import CUSTOM_WAITERS
from infra_bootstrap.ownership import owned
from infra_bootstrap.planner import WAIT_PREFIX, Call, mutating, normalize, plan
from infra_bootstrap.resources import Data, Resource
from infra_bootstrap.teardown import teardown
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
    if resource.kind == r.EVENT_BUS:
        extra["rules"] = {}
    # An archive's marker is its description plus the tags of the bus it records.
    parent_tags = TAGS if resource.kind == r.ARCHIVE else None
    return dataclasses.replace(resource, props={**resource.props, **extra},
                               parent_tags=parent_tags)


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
    assert plan(_desired(), _up_to_date(), stage="test").calls == []


def test_create_from_nothing_respects_dependencies() -> None:
    calls = plan(_desired(), [], stage="test").calls

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
    calls = plan(_desired(), [], stage="test").calls

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
    calls = plan(_desired(), [], stage="test").calls

    assert [c.operation for c in calls if not c.mutating] == [
        "wait:table_exists", "wait:continuous_backups_enabled"] * 2
    assert len(mutating(calls)) == len(calls) - 4


def test_point_in_time_recovery_waits_for_backups_to_be_available() -> None:
    calls = plan(_desired(), [], stage="test").calls

    assert _index(calls, "wait:table_exists", TableName="order-service-state") \
        < _index(calls, "wait:continuous_backups_enabled", TableName="order-service-state") \
        < _index(calls, "update_continuous_backups", TableName="order-service-state")


def test_pattern_drift_is_an_in_place_put_rule_without_tags() -> None:
    actual = _replace(_up_to_date(), FORWARD_RULE, pattern={"source": ["x"]})

    [call] = plan(_desired(), actual, stage="test").calls

    assert call.operation == "put_rule"
    assert "Tags" not in call.params
    assert call.params["EventPattern"] == '{"source":[{"anything-but":"order-service"}]}'
    assert "pattern" in call.description


def test_a_missing_target_is_put_and_an_extra_one_of_ours_removed() -> None:
    desired_target = next(x for x in _desired() if x.key == FORWARD_RULE).props["targets"][0]
    stray = {"Id": names.LOG_TARGET_ID, "Arn": "arn:aws:logs:eu-west-1:1:log-group:x"}
    actual = _replace(_up_to_date(), FORWARD_RULE, targets=(stray,))

    calls = plan(_desired(), actual, stage="test").calls

    assert _ops(calls) == ["put_targets", "remove_targets"]
    assert calls[0].params["Targets"] == [desired_target]
    assert calls[1].params == {"Rule": "global-to-order-service", "EventBusName": "global-bus",
                               "Ids": [names.LOG_TARGET_ID]}


def test_a_target_someone_else_added_to_our_rule_stays() -> None:
    desired_target = next(x for x in _desired() if x.key == FORWARD_RULE).props["targets"][0]
    foreign = {"Id": "spy", "Arn": "arn:aws:sqs:eu-west-1:999999999999:spy"}
    actual = _replace(_up_to_date(), FORWARD_RULE, targets=(desired_target, foreign))

    assert plan(_desired(), actual, stage="test").calls == []


def test_retry_policy_drift_puts_the_target_again() -> None:
    target = next(x for x in _desired() if x.key == FORWARD_RULE).props["targets"][0]
    changed = {**target, "RetryPolicy": {"MaximumRetryAttempts": 0,
                                         "MaximumEventAgeInSeconds": 60}}
    actual = _replace(_up_to_date(), FORWARD_RULE, targets=(changed,))

    assert _ops(plan(_desired(), actual, stage="test").calls) == ["put_targets"]


GLOBAL_BUS = (r.EVENT_BUS, BUS, "global-bus")


def _statements(call: Call) -> list[dict[str, Any]]:
    return list(json.loads(call.params["Policy"])["Statement"])


def test_our_statements_are_put_back_and_someone_elses_stay() -> None:
    ours = next(x for x in _desired() if x.key == GLOBAL_BUS).props["policy"]["Statement"]
    wide = {"Sid": "all", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents",
            "Resource": "*"}
    actual = _replace(_up_to_date(), GLOBAL_BUS,
                      policy={"Version": "2012-10-17", "Statement": [wide]})

    [put] = plan(_desired(), actual, stage="test").calls

    assert put.operation == "put_permission"
    assert _statements(put) == [*ours, wide]
    assert "keeps 1 statement(s) not the stage's: all" in put.description


def test_a_foreign_statement_beside_ours_changes_nothing() -> None:
    policy = next(x for x in _desired() if x.key == GLOBAL_BUS).props["policy"]
    foreign = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
               "Action": "events:PutEvents", "Resource": "*"}
    actual = _replace(_up_to_date(), GLOBAL_BUS,
                      policy={**policy, "Statement": [*policy["Statement"], foreign]})

    assert plan(_desired(), actual, stage="test").calls == []


def test_a_statement_of_ours_no_longer_wanted_is_removed_by_id() -> None:
    policy = next(x for x in _desired() if x.key == GLOBAL_BUS).props["policy"]
    stale = {**policy["Statement"][0], "Sid": names.statement_sid("test", "PublishFrom1")}
    actual = _replace(_up_to_date(), GLOBAL_BUS,
                      policy={**policy, "Statement": [*policy["Statement"], stale]})

    [remove] = plan(_desired(), actual, stage="test").calls

    assert remove.params == {"EventBusName": "global-bus", "StatementId": stale["Sid"]}


def test_retention_drift_of_an_owned_log_group() -> None:
    key = (r.LOG_GROUP, BUS, "/aws/events/backbone/global-bus")
    actual = _replace(_up_to_date(), key, retention_days=None)

    [call] = plan(_desired(), actual, stage="test").calls

    assert call.params == {"logGroupName": "/aws/events/backbone/global-bus",
                           "retentionInDays": 7}
    assert call.description.endswith("to 7 days (was never expire)")


def test_adopting_an_untagged_log_group_sets_retention_and_tags() -> None:
    key = (r.LOG_GROUP, BUS, "/aws/events/backbone/global-bus")
    actual = [dataclasses.replace(x, props={**x.props, "retention_days": None}, tags={})
              if x.key == key else x for x in _up_to_date()]

    calls = plan(_desired(), actual, stage="test", adopt={key}).calls

    assert _ops(calls) == ["put_retention_policy", "tag_resource"]
    assert calls[0].params == {"logGroupName": "/aws/events/backbone/global-bus",
                               "retentionInDays": 7}
    assert calls[1].params == {"resourceArn": "arn:for:/aws/events/backbone/global-bus",
                               "tags": TAGS}


def test_archive_source_change_recreates_only_an_empty_archive() -> None:
    key = (r.ARCHIVE, BUS, "global-bus-archive")
    moved = _replace(_up_to_date(), key, source_arn="arn:aws:events:eu-west-1:1:event-bus/x")
    holding = [dataclasses.replace(x, data=Data(5, "event")) if x.key == key else x
               for x in moved]
    shorter = _replace(_up_to_date(), key, retention_days=1)

    assert _ops(plan(_desired(), moved, stage="test").calls) == [
        "delete_archive", "create_archive"]
    assert plan(_desired(), holding, stage="test").calls == []
    assert _ops(plan(_desired(), shorter, stage="test").calls) == ["update_archive"]


def test_equivalent_policies_compare_equal() -> None:
    ours = {"Statement": [{"Action": ["sqs:SendMessage"],
                           "Condition": {"ArnEquals": {"aws:SourceArn": ["a", "b"]}}}]}
    aws_form = {"Statement": {"Action": "sqs:SendMessage",
                              "Condition": {"ArnEquals": {"AWS:SourceArn": ["b", "a"]}}}}

    assert normalize(ours) == normalize(aws_form)


def test_owned_resources_are_deleted_in_reverse_dependency_order() -> None:
    ours = _up_to_date()
    assert all(owned(x, "test") for x in ours)

    calls = [c for step in teardown(ours, "test", discard_data=False) for c in step.calls]

    deleted = {c.params.get("Name") for c in calls if c.operation == "delete_event_bus"}
    assert deleted == {"global-bus", "local-bus-order-service", "local-bus-delivery-service"}
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

    calls = plan(desired_resources(smaller), _up_to_date(), stage="test").calls
    deletes = [c for c in calls if c.operation.startswith("delete_")]

    assert {c.resource for c in deletes} == {
        "rule global-bus/global-to-delivery-service",
        "IAM role backbone-forward-to-delivery-service",
        "event bus local-bus-delivery-service",
        "rule local-bus-delivery-service/log-all-events",
        "log group /aws/events/backbone/local-bus-delivery-service",
        "SQS queue delivery-service-handler-dlq",
        "DynamoDB table delivery-service-state",
        "Logs resource policy backbone-test-eventbridge-to-event-logs",
        # ... and the alarms on its queue and rules.
        "alarm backbone-test-dlq-delivery-service-handler-dlq",
        "alarm backbone-test-failed-global-bus-global-to-delivery-service",
        "alarm backbone-test-failed-local-bus-delivery-service-log-all-events",
    }
    updated = {c.resource for c in calls
               if c.operation in {"remove_permission", "set_queue_attributes"}}
    assert updated == {"event bus global-bus", "SQS queue global-bus-forward-dlq"}


def test_an_untagged_resource_with_our_name_is_a_conflict_and_left_alone() -> None:
    actual = [dataclasses.replace(x, tags={}) if x.key == GLOBAL_BUS else x
              for x in _up_to_date()]

    planned = plan(_desired(), actual, stage="test")

    assert planned.calls == []
    assert [str(c) for c in planned.conflicts] == [
        f"CONFLICT {BUS} event_bus global-bus: exists, not owned by stage test"]


def test_adopting_a_conflict_tags_it_and_only_it() -> None:
    actual = [dataclasses.replace(x, tags={}) if x.key == GLOBAL_BUS else x
              for x in _up_to_date()]

    planned = plan(_desired(), actual, stage="test", adopt={GLOBAL_BUS})

    assert planned.conflicts == []
    [tag] = planned.calls
    assert (tag.operation, tag.params["Tags"]) == (
        "tag_resource", [{"Key": k, "Value": v} for k, v in TAGS.items()])
    assert tag.description == ("tag event bus global-bus with "
                               "backbone:project=cross-account-backbone, backbone:stage=test")
    assert [x.key for x in planned.adopted] == [GLOBAL_BUS]


def test_a_leftover_holding_data_is_kept_not_deleted() -> None:
    stage = dataclasses.replace(load_stage("local"), name="test")
    smaller = dataclasses.replace(stage, services=stage.services[:1])
    table = (r.DYNAMODB_TABLE, "333333333333", "delivery-service-state")
    actual = [dataclasses.replace(x, data=Data(1, "item", at_least=True)) if x.key == table
              else x for x in _up_to_date()]

    planned = plan(desired_resources(smaller), actual, stage="test")

    assert "delete_table" not in _ops(planned.calls)
    assert [(k.resource.key, k.reason) for k in planned.kept] == [
        (table, "holds at least 1 item")]


@pytest.mark.parametrize(("operation", "service", "api"), [
    ("put_function_event_invoke_config", "lambda", "lambda:PutFunctionEventInvokeConfig"),
    ("wait:table_exists", "dynamodb", "dynamodb:TableExists"),
    ("create_role", "iam", "iam:CreateRole"),
])
def test_api_names_for_messages(operation: str, service: str, api: str) -> None:
    assert Call("1", service, operation, {}, "", "x").api_name == api


# --- Every call as botocore's model defines it --------------------------------------------


def _drifted(resource: Resource) -> Resource:
    """``resource`` with every managed property off and its tags gone: the largest update
    (planned by adopting it)."""
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


def _with_foreign_additions(resource: Resource) -> Resource:
    """``resource`` carrying someone else's statement, target or role policy."""
    foreign = {"Sid": "theirs", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "x"}
    props = dict(resource.props)
    for key in ("policy", "document"):
        if isinstance(props.get(key), dict):
            props[key] = {**props[key], "Statement": [*props[key]["Statement"], foreign]}
    if "targets" in props:
        props["targets"] = (*props["targets"], {"Id": "theirs", "Arn": "arn:x"})
    if "policies" in props:
        props["policies"] = {**props["policies"], "theirs": {}}
    return dataclasses.replace(resource, props=props)


def _torn_down(resources: list[Resource]) -> list[Call]:
    return [c for step in teardown(resources, "test", discard_data=True) for c in step.calls]


def _every_kind_of_call() -> list[Call]:
    infra, subs = _desired(), _subscriptions()
    owned_subs = [dataclasses.replace(x, props={**x.props, "arn": "arn:x"}, parent_tags=TAGS)
                  for x in subs]
    return [
        *plan(infra, [], stage="test").calls,
        *plan(infra, [_drifted(x) for x in _up_to_date()], stage="test",
              adopt={x.key for x in infra}).calls,
        *_torn_down(_up_to_date()),
        *_torn_down([_with_foreign_additions(x) for x in _up_to_date()]),
        *plan(subs, [], stage="test", kinds=r.SUBSCRIPTION_KINDS).calls,
        *plan(subs, [_drifted(x) for x in subs], stage="test", kinds=r.SUBSCRIPTION_KINDS,
              adopt={x.key for x in subs}).calls,
        *_torn_down(owned_subs),
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
            "wait:continuous_backups_enabled", "put_resource_policy"} \
        <= {c.operation for c in calls}

    problems = []
    for call in calls:
        report = ParamValidator().validate(dict(call.params), _input_shape(call))
        if report.has_errors():
            problems.append(f"{call.api_name}: {report.generate_report()}")
    assert problems == []
