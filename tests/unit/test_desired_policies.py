"""The policies the bootstrap generates (desired.py) admit what they mean to admit, and
nothing more, as localcloud's IAM policy evaluator (the local cloud's) reads them."""

from __future__ import annotations

import json

import pytest

from localcloud.policy import (
    Decision,
    Principal,
    evaluate,
    is_allowed_by_identity,
    is_allowed_cross_account,
)
from tests.seed_arns import (
    BUS_ACCOUNT,
    DELIVERY_ACCOUNT,
    DLQ,
    FORWARD_ROLE,
    FORWARD_RULE,
    FORWARD_SESSION,
    GLOBAL_BUS,
    ORDER_ACCOUNT,
    ORDER_BUS,
    REGION,
    STRANGER,
)

PUT = "events:PutEvents"
EVENTS = Principal(service="events.amazonaws.com")


@pytest.fixture(scope="module")
def stage():
    from infra_bootstrap.topology import load_stage

    return load_stage("local")


@pytest.fixture(scope="module")
def desired():
    from infra_bootstrap import desired

    return desired


class TestGeneratedPolicies:
    """The evaluator admits what `desired.py` means to admit, and nothing more."""

    def test_global_bus_policy(self, stage, desired):
        policy = json.dumps(desired.global_bus_policy(stage))
        for service in stage.services:
            caller = Principal(arn=f"arn:aws:sts::{service.account}:assumed-role/api/s")
            assert is_allowed_cross_account(
                policy, principal=caller, action=PUT, resource=GLOBAL_BUS,
                context={"events:source": service.name, "events:detail-type": "X.Created"})
            for other in stage.services:
                if other.account != service.account:
                    assert not is_allowed_cross_account(
                        policy, principal=caller, action=PUT, resource=GLOBAL_BUS,
                        context={"events:source": other.name})
        assert not is_allowed_cross_account(
            policy, principal=Principal(account=STRANGER), action=PUT, resource=GLOBAL_BUS,
            context={"events:source": "order-service"})

    def test_local_bus_policy_admits_only_its_forwarding_rule_role(self, stage, desired):
        order = stage.service("order-service")
        policy = desired.local_bus_policy(stage, order)
        forwarded = {"aws:SourceAccount": BUS_ACCOUNT, "aws:SourceArn": FORWARD_RULE,
                     "events:eventBusInvocation": "true", "events:source": "delivery-service"}
        role = Principal(arn=FORWARD_SESSION)
        assert is_allowed_cross_account(policy, principal=role, action=PUT,
                                        resource=ORDER_BUS, context=forwarded)
        other_rule = FORWARD_RULE.replace("order-service", "delivery-service")
        assert not is_allowed_cross_account(
            policy, principal=role, action=PUT, resource=ORDER_BUS,
            context={**forwarded, "aws:SourceArn": other_rule})
        assert not is_allowed_cross_account(
            policy, principal=Principal(account=BUS_ACCOUNT), action=PUT, resource=ORDER_BUS,
            context=forwarded)
        assert not is_allowed_cross_account(
            policy, principal=Principal(account=DELIVERY_ACCOUNT), action=PUT,
            resource=ORDER_BUS, context={"events:source": "delivery-service"})

    def test_local_bus_policy_admits_the_redrive_role_for_forwarded_sources_only(
            self, stage, desired):
        order = stage.service("order-service")
        policy = desired.local_bus_policy(stage, order)
        redrive = Principal(arn=f"arn:aws:sts::{BUS_ACCOUNT}:assumed-role/backbone-redrive/me")
        assert is_allowed_cross_account(policy, principal=redrive, action=PUT,
                                        resource=ORDER_BUS,
                                        context={"events:source": "delivery-service"})
        # Never what the forwarding rule would not forward here: the service's own events.
        assert not is_allowed_cross_account(policy, principal=redrive, action=PUT,
                                            resource=ORDER_BUS,
                                            context={"events:source": "order-service"})
        assert not is_allowed_cross_account(policy, principal=redrive, action=PUT,
                                            resource=ORDER_BUS, context={})
        other_role = Principal(arn=f"arn:aws:sts::{BUS_ACCOUNT}:assumed-role/someone/me")
        assert not is_allowed_cross_account(policy, principal=other_role, action=PUT,
                                            resource=ORDER_BUS,
                                            context={"events:source": "delivery-service"})

    def test_redrive_role_may_put_events_on_the_local_buses_only(self, stage, desired):
        inline = desired.redrive_role_policy(stage)
        assert is_allowed_by_identity([inline], action=PUT, resource=ORDER_BUS)
        assert not is_allowed_by_identity([inline], action=PUT, resource=GLOBAL_BUS)
        trust = desired.redrive_role_trust(stage)
        assert trust["Statement"][0]["Principal"] == {
            "AWS": f"arn:aws:iam::{BUS_ACCOUNT}:root"}

    def test_forwarding_role_trust_and_permissions(self, stage, desired):
        order = stage.service("order-service")
        trust = desired.forward_role_trust(stage, order)
        context = {"aws:SourceAccount": BUS_ACCOUNT, "aws:SourceArn": FORWARD_RULE}
        assert evaluate(trust, principal=EVENTS, action="sts:AssumeRole",
                        resource=FORWARD_ROLE, context=context) is Decision.ALLOW
        assert evaluate(trust, principal=EVENTS, action="sts:AssumeRole",
                        resource=FORWARD_ROLE,
                        context={**context, "aws:SourceArn": FORWARD_RULE + "x"},
                        ) is Decision.IMPLICIT_DENY
        inline = desired.forward_role_policy(stage, order)
        assert is_allowed_by_identity([inline], action=PUT, resource=ORDER_BUS)
        assert not is_allowed_by_identity(
            [inline], action=PUT, resource=ORDER_BUS.replace("order", "delivery"))

    def test_dead_letter_queue_policies(self, stage, desired):
        forward = desired.forward_dlq_policy(stage)
        assert evaluate(forward, principal=EVENTS, action="sqs:SendMessage", resource=DLQ,
                        context={"aws:SourceArn": FORWARD_RULE}) is Decision.ALLOW
        assert evaluate(forward, principal=EVENTS, action="sqs:SendMessage", resource=DLQ,
                        context={}) is Decision.IMPLICIT_DENY
        order = stage.service("order-service")
        service_dlq = f"arn:aws:sqs:{REGION}:{ORDER_ACCOUNT}:order-service-handler-dlq"
        sub_rule = (f"arn:aws:events:{REGION}:{ORDER_ACCOUNT}:rule/"
                    "local-bus-order-service/sub-on-delivery-updated")
        policy = desired.service_dlq_policy(stage, order)
        ok = {"aws:SourceArn": sub_rule, "aws:SourceAccount": ORDER_ACCOUNT}
        assert evaluate(policy, principal=EVENTS, action="sqs:SendMessage",
                        resource=service_dlq, context=ok) is Decision.ALLOW
        assert evaluate(policy, principal=EVENTS, action="sqs:SendMessage",
                        resource=service_dlq,
                        context={**ok, "aws:SourceArn": FORWARD_RULE}) is Decision.IMPLICIT_DENY

    def test_logs_resource_policy(self, stage, desired):
        policy = desired.logs_resource_policy(stage, BUS_ACCOUNT)
        stream = (f"arn:aws:logs:{REGION}:{BUS_ACCOUNT}:log-group:"
                  "/aws/events/backbone/global-bus:log-stream:s")
        rule = f"arn:aws:events:{REGION}:{BUS_ACCOUNT}:rule/global-bus/log-all-events"
        ok = {"aws:SourceArn": rule, "aws:SourceAccount": BUS_ACCOUNT}
        assert evaluate(policy, principal=EVENTS, action="logs:PutLogEvents", resource=stream,
                        context=ok) is Decision.ALLOW
        assert evaluate(policy, principal=EVENTS, action="logs:PutLogEvents", resource=stream,
                        context={**ok, "aws:SourceArn": FORWARD_RULE}) is Decision.IMPLICIT_DENY
        assert evaluate(policy, principal=EVENTS, action="logs:PutLogEvents", resource=stream,
                        context={}) is Decision.IMPLICIT_DENY
