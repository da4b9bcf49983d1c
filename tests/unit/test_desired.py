"""desired_resources: a pure function of the topology."""

from __future__ import annotations

import dataclasses
from collections import Counter

from infra_bootstrap import names
from infra_bootstrap import resources as r
from infra_bootstrap.desired import CATCH_ALL_PATTERN, RETRY_POLICY, desired_resources
from infra_bootstrap.resources import Resource
from infra_bootstrap.topology import Stage, load_stage, parse_stage
from localcloud.policy import Decision, Principal, evaluate

REGION = "eu-west-1"
BUS, ORDER, DELIVERY = "111111111111", "222222222222", "333333333333"
TAGGABLE = {r.IAM_ROLE, r.SQS_QUEUE, r.LOG_GROUP, r.DYNAMODB_TABLE, r.EVENT_BUS, r.RULE,
            r.ALARM}


def _stage(**overrides: object) -> Stage:
    return dataclasses.replace(load_stage("local"), name="test", **overrides)


def _by_key(resources: list[Resource]) -> dict[tuple[str, str, str], Resource]:
    return {x.key: x for x in resources}


def _get(resources: list[Resource], kind: str, account: str, name: str) -> Resource:
    return _by_key(resources)[(kind, account, name)]


def _five_services() -> Stage:
    services = [{"name": f"svc-{i}", "account": f"{i + 2}" * 12} for i in range(5)]
    return parse_stage("five", {"region": REGION, "bus_account": BUS, "services": services})


def test_every_resource_is_in_its_account() -> None:
    resources = desired_resources(_stage())
    keys = {(x.kind, x.account, x.name) for x in resources}

    assert keys == {
        (r.EVENT_BUS, BUS, "global-bus"),
        (r.LOG_GROUP, BUS, "/aws/events/backbone/global-bus"),
        (r.RULE, BUS, "global-bus/log-all-events"),
        (r.RULE, BUS, "global-bus/global-to-order-service"),
        (r.RULE, BUS, "global-bus/global-to-delivery-service"),
        (r.IAM_ROLE, BUS, "backbone-forward-to-order-service"),
        (r.IAM_ROLE, BUS, "backbone-forward-to-delivery-service"),
        (r.IAM_ROLE, BUS, "backbone-redrive"),
        (r.SQS_QUEUE, BUS, "global-bus-forward-dlq"),
        (r.ARCHIVE, BUS, "global-bus-archive"),
        (r.LOGS_RESOURCE_POLICY, BUS, names.logs_resource_policy("test")),
        (r.ALARM, BUS, "backbone-test-dlq-global-bus-forward-dlq"),
        (r.ALARM, BUS, "backbone-test-failed-global-bus-log-all-events"),
        (r.ALARM, BUS, "backbone-test-failed-global-bus-global-to-order-service"),
        (r.ALARM, BUS, "backbone-test-failed-global-bus-global-to-delivery-service"),
        *[(kind, account, name) for service, account in
          (("order-service", ORDER), ("delivery-service", DELIVERY)) for kind, name in (
              (r.EVENT_BUS, f"local-bus-{service}"),
              (r.LOG_GROUP, f"/aws/events/backbone/local-bus-{service}"),
              (r.RULE, f"local-bus-{service}/log-all-events"),
              (r.SQS_QUEUE, f"{service}-handler-dlq"),
              (r.DYNAMODB_TABLE, f"{service}-state"),
              (r.LOGS_RESOURCE_POLICY, names.logs_resource_policy("test")),
              (r.ALARM, f"backbone-test-dlq-{service}-handler-dlq"),
              (r.ALARM, f"backbone-test-failed-local-bus-{service}-log-all-events"))],
    }
    assert len(keys) == len(resources), "no resource is desired twice"


def test_every_taggable_resource_carries_the_stage_tags() -> None:
    for resource in desired_resources(_stage()):
        if resource.kind in TAGGABLE:
            assert resource.tags == {"backbone:project": "cross-account-backbone",
                                     "backbone:stage": "test"}, resource.label
        else:
            assert resource.tags is None, resource.label


def test_global_bus_policy_lets_each_account_publish_only_its_own_sources() -> None:
    policy = _get(desired_resources(_stage()), r.EVENT_BUS, BUS, "global-bus").props["policy"]

    assert policy == {"Version": "2012-10-17", "Statement": [
        {"Sid": f"backbone-test-PublishFrom{account}", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "events:PutEvents",
         "Resource": f"arn:aws:events:{REGION}:{BUS}:event-bus/global-bus",
         "Condition": {"ForAllValues:StringEquals": {"events:source": [source]},
                       "Null": {"events:source": "false"}}}
        for account, source in ((ORDER, "order-service"), (DELIVERY, "delivery-service"))]}


def test_global_bus_policy_denies_a_batch_mixing_an_own_and_a_foreign_source() -> None:
    # events:source is multivalued: every source of the request must be the account's own,
    # and a request without the key must not pass vacuously.
    policy = _get(desired_resources(_stage()), r.EVENT_BUS, BUS, "global-bus").props["policy"]
    bus = f"arn:aws:events:{REGION}:{BUS}:event-bus/global-bus"

    def decide(context: dict) -> Decision:
        return evaluate(policy, principal=Principal(account=ORDER), action="events:PutEvents",
                        resource=bus, context=context)

    assert decide({"events:source": ["order-service"]}) is Decision.ALLOW
    assert decide({"events:source": ["order-service", "delivery-service"]}) \
        is Decision.IMPLICIT_DENY
    assert decide({}) is Decision.IMPLICIT_DENY


def test_organization_id_adds_principal_org_condition() -> None:
    stage = _stage(organization_id="o-abcdefghij")
    policy = _get(desired_resources(stage), r.EVENT_BUS, BUS, "global-bus").props["policy"]

    for statement in policy["Statement"]:
        assert statement["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": "o-abcdefghij"}
        assert statement["Condition"]["ForAllValues:StringEquals"]["events:source"]


def test_services_sharing_an_account_share_one_statement_with_both_sources() -> None:
    stage = parse_stage("s", {"region": REGION, "bus_account": BUS, "services": [
        {"name": "a-service", "account": ORDER}, {"name": "b-service", "account": ORDER}]})
    policy = _get(desired_resources(stage), r.EVENT_BUS, BUS, "global-bus").props["policy"]

    assert [s["Condition"]["ForAllValues:StringEquals"]["events:source"]
            for s in policy["Statement"]] == [
        ["a-service", "b-service"]]


def test_local_bus_admits_only_the_forwarding_role_of_its_rule() -> None:
    resources = desired_resources(_stage())
    policy = _get(resources, r.EVENT_BUS, ORDER, "local-bus-order-service").props["policy"]

    assert policy["Statement"] == [{
        "Sid": "backbone-test-ForwardFromGlobalBus", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{BUS}:role/backbone-forward-to-order-service"},
        "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:{REGION}:{ORDER}:event-bus/local-bus-order-service",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": BUS},
            "ArnEquals": {"aws:SourceArn": f"arn:aws:events:{REGION}:{BUS}:rule/global-bus/"
                                           "global-to-order-service"}},
    }, {
        # dlq redrive: only the redrive role, only what the forwarding rule forwards here.
        "Sid": "backbone-test-RedriveFromBusAccount", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{BUS}:role/backbone-redrive"},
        "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:{REGION}:{ORDER}:event-bus/local-bus-order-service",
        "Condition": {"ForAllValues:StringEquals": {"events:source": ["delivery-service"]},
                      "Null": {"events:source": "false"}},
    }]


def test_forwarding_rule_excludes_the_service_itself_and_targets_its_bus_safely() -> None:
    rule = _get(desired_resources(_stage()), r.RULE, BUS, "global-bus/global-to-order-service")

    assert rule.props["pattern"] == {"source": [{"anything-but": "order-service"}]}
    assert rule.props["targets"] == ({
        "Id": "local-bus",
        "Arn": f"arn:aws:events:{REGION}:{ORDER}:event-bus/local-bus-order-service",
        "RoleArn": f"arn:aws:iam::{BUS}:role/backbone-forward-to-order-service",
        "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
        "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:{BUS}:global-bus-forward-dlq"},
    },)


def test_forwarding_role_is_for_eventbridge_and_one_bus_only() -> None:
    role = _get(desired_resources(_stage()), r.IAM_ROLE, BUS, "backbone-forward-to-order-service")
    rule_arn = f"arn:aws:events:{REGION}:{BUS}:rule/global-bus/global-to-order-service"

    assert role.props["trust"]["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": BUS},
                      "ArnEquals": {"aws:SourceArn": rule_arn}}}]
    assert role.props["policies"] == {"put-events-to-local-bus": {
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "events:PutEvents",
            "Resource": f"arn:aws:events:{REGION}:{ORDER}:event-bus/local-bus-order-service"}]}}


def test_forward_dlq_accepts_only_the_forwarding_rules() -> None:
    queue = _get(desired_resources(_stage()), r.SQS_QUEUE, BUS, "global-bus-forward-dlq")

    [statement] = queue.props["policy"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == f"arn:aws:sqs:{REGION}:{BUS}:global-bus-forward-dlq"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": [
        f"arn:aws:events:{REGION}:{BUS}:rule/global-bus/global-to-order-service",
        f"arn:aws:events:{REGION}:{BUS}:rule/global-bus/global-to-delivery-service"]}}


def test_service_dlq_accepts_rules_of_that_service_bus_only() -> None:
    queue = _get(desired_resources(_stage()), r.SQS_QUEUE, ORDER, "order-service-handler-dlq")

    [statement] = queue.props["policy"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ORDER},
        "ArnLike": {"aws:SourceArn":
                    f"arn:aws:events:{REGION}:{ORDER}:rule/local-bus-order-service/*"}}


def test_one_logs_resource_policy_per_account_conditioned_on_our_log_rules() -> None:
    resources = desired_resources(_stage())
    policies = [x for x in resources if x.kind == r.LOGS_RESOURCE_POLICY]

    assert sorted(p.account for p in policies) == [BUS, ORDER, DELIVERY]
    bus_policy = _get(resources, r.LOGS_RESOURCE_POLICY, BUS, names.logs_resource_policy("test"))
    log_groups = f"arn:aws:logs:{REGION}:{BUS}:log-group:/aws/events/backbone/*"
    principal = {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]}
    # EventBridge sends aws:SourceArn with PutLogEvents only: CreateLogStream is allowed on
    # our log groups without it, PutLogEvents only from our logging rules.
    assert bus_policy.props["document"]["Statement"] == [
        {"Sid": "backbone-test-EventBridgeCreatesEventLogStreams", "Effect": "Allow",
         "Principal": principal, "Action": "logs:CreateLogStream", "Resource": log_groups},
        {"Sid": "backbone-test-EventBridgeRulesWriteEventLogs", "Effect": "Allow",
         "Principal": principal, "Action": "logs:PutLogEvents", "Resource": log_groups,
         "Condition": {"ArnEquals": {"aws:SourceArn": [
             f"arn:aws:events:{REGION}:{BUS}:rule/global-bus/log-all-events"]}}},
    ]


def test_logs_policy_lets_only_our_logging_rules_put_log_events() -> None:
    document = _get(desired_resources(_stage()), r.LOGS_RESOURCE_POLICY, ORDER,
                    names.logs_resource_policy("test")).props["document"]
    stream = (f"arn:aws:logs:{REGION}:{ORDER}:log-group:/aws/events/backbone/"
              "local-bus-order-service:log-stream:s")
    ours = f"arn:aws:events:{REGION}:{ORDER}:rule/local-bus-order-service/log-all-events"
    events = Principal(service="events.amazonaws.com")

    def decide(action: str, context: dict) -> Decision:
        return evaluate(document, principal=events, action=action, resource=stream,
                        context=context)

    assert decide("logs:CreateLogStream", {}) is Decision.ALLOW
    assert decide("logs:PutLogEvents", {"aws:SourceArn": ours}) is Decision.ALLOW
    assert decide("logs:PutLogEvents", {"aws:SourceArn": ours.replace("log-all", "x")}) \
        is Decision.IMPLICIT_DENY
    assert decide("logs:PutLogEvents", {}) is Decision.IMPLICIT_DENY


def test_every_bus_logs_everything_to_its_own_log_group() -> None:
    resources = desired_resources(_stage())
    for account, bus in ((BUS, "global-bus"), (ORDER, "local-bus-order-service"),
                         (DELIVERY, "local-bus-delivery-service")):
        rule = _get(resources, r.RULE, account, f"{bus}/log-all-events")
        group = _get(resources, r.LOG_GROUP, account, f"/aws/events/backbone/{bus}")
        assert rule.props["pattern"] == CATCH_ALL_PATTERN
        assert rule.props["targets"] == ({
            "Id": "event-log",
            "Arn": f"arn:aws:logs:{REGION}:{account}:log-group:/aws/events/backbone/{bus}"},)
        assert group.props == {"retention_days": 7}


def test_archive_of_the_global_bus_keeps_configured_retention() -> None:
    archive = _get(desired_resources(_stage(archive_retention_days=90)), r.ARCHIVE, BUS,
                   "global-bus-archive")

    assert archive.props["source_arn"] == f"arn:aws:events:{REGION}:{BUS}:event-bus/global-bus"
    assert archive.props["retention_days"] == 90


def test_service_tables_have_point_in_time_recovery_except_on_local() -> None:
    local = _get(desired_resources(load_stage("local")), r.DYNAMODB_TABLE, ORDER,
                 "order-service-state")
    other = _get(desired_resources(_stage()), r.DYNAMODB_TABLE, ORDER, "order-service-state")

    assert local.props == {"hash_key": "pk", "range_key": "sk", "ttl_attribute": "expires_at",
                           "point_in_time_recovery": False}
    assert other.props["point_in_time_recovery"] is True


def test_five_services_yield_five_of_everything() -> None:
    resources = desired_resources(_five_services())
    kinds = Counter(x.kind for x in resources)

    assert kinds[r.EVENT_BUS] == 6
    assert kinds[r.IAM_ROLE] == 5 + 1   # forwarding roles + the redrive role
    assert kinds[r.RULE] == 5 + 6   # forwarding + one logging rule per bus
    assert kinds[r.SQS_QUEUE] == 5 + 1
    assert kinds[r.DYNAMODB_TABLE] == 5
    assert kinds[r.LOGS_RESOURCE_POLICY] == 6
    policy = _get(resources, r.EVENT_BUS, BUS, "global-bus").props["policy"]
    assert len(policy["Statement"]) == 5


def test_all_roles_in_one_account() -> None:
    stage = parse_stage("one", {"region": REGION, "bus_account": BUS, "services": [
        {"name": "order-service", "account": BUS},
        {"name": "delivery-service", "account": BUS}]})
    resources = desired_resources(stage)

    assert {x.account for x in resources} == {BUS}
    assert len({x.key for x in resources}) == len(resources)
    [logs_policy] = [x for x in resources if x.kind == r.LOGS_RESOURCE_POLICY]
    assert len(logs_policy.props["document"]["Statement"][1]["Condition"]["ArnEquals"][
        "aws:SourceArn"]) == 3


def test_no_policy_has_a_wildcard_principal() -> None:
    def principals(document: dict) -> list:
        return [s.get("Principal") for s in document["Statement"]]

    for resource in desired_resources(_five_services()):
        for key in ("policy", "document", "trust"):
            if resource.props.get(key):
                assert "*" not in str(principals(resource.props[key])), resource.label


def test_retry_policy_is_explicit_and_within_aws_limits() -> None:
    assert 0 <= RETRY_POLICY["MaximumRetryAttempts"] <= 185
    assert 60 <= RETRY_POLICY["MaximumEventAgeInSeconds"] <= 86400
