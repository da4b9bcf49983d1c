"""The local data plane's IAM policy evaluator, rule by rule.

Policies are shaped like the ones AWS documents for EventBridge bus policies, SQS queue
policies for EventBridge dead-letter queues, CloudWatch Logs resource policies for
EventBridge, role trust policies and role inline policies.
"""

from __future__ import annotations

import doctest
import json

import pytest

from localcloud import policy as policy_module
from localcloud.policy import (
    Decision,
    PolicyError,
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

ORG = "o-a1b2c3d4e5"
PUT = "events:PutEvents"

ORDER = Principal(
    account=ORDER_ACCOUNT,
    arn=f"arn:aws:sts::{ORDER_ACCOUNT}:assumed-role/order-service-api/session",
)
DELIVERY = Principal(account=DELIVERY_ACCOUNT)
EVENTS = Principal(service="events.amazonaws.com")


def publish_statement(account: str, sources: list[str], **extra_conditions: dict) -> dict:
    """One statement of a global bus policy: one account may publish its own sources."""
    return {
        "Sid": f"PublishFrom{account}",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": PUT,
        "Resource": GLOBAL_BUS,
        "Condition": {"StringEquals": {"events:source": sources}, **extra_conditions},
    }


GLOBAL_BUS_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        publish_statement(ORDER_ACCOUNT, ["order-service"]),
        publish_statement(DELIVERY_ACCOUNT, ["delivery-service"]),
    ],
}


def put(policy, principal, *, source="order-service", resource=GLOBAL_BUS, **context):
    return evaluate(
        policy,
        principal=principal,
        action=PUT,
        resource=resource,
        context={"events:source": source, "events:detail-type": "Order.Created", **context},
    )


# --- EventBridge bus policies ------------------------------------------------


class TestGlobalBusPolicy:
    def test_an_account_may_publish_the_sources_it_hosts(self):
        assert put(GLOBAL_BUS_POLICY, ORDER) is Decision.ALLOW
        assert put(GLOBAL_BUS_POLICY, DELIVERY, source="delivery-service") is Decision.ALLOW

    def test_an_account_may_not_impersonate_another_service(self):
        assert put(GLOBAL_BUS_POLICY, ORDER, source="delivery-service") is (
            Decision.IMPLICIT_DENY
        )
        assert put(GLOBAL_BUS_POLICY, DELIVERY, source="order-service") is (
            Decision.IMPLICIT_DENY
        )

    def test_an_account_outside_the_topology_is_refused(self):
        assert put(GLOBAL_BUS_POLICY, Principal(account=STRANGER)) is Decision.IMPLICIT_DENY

    def test_the_grant_covers_the_global_bus_only(self):
        other_bus = GLOBAL_BUS.replace("global-bus", "other-bus")
        assert put(GLOBAL_BUS_POLICY, ORDER, resource=other_bus) is Decision.IMPLICIT_DENY

    def test_a_missing_policy_refuses_every_cross_account_caller(self):
        assert put(None, ORDER) is Decision.IMPLICIT_DENY
        assert put("", ORDER) is Decision.IMPLICIT_DENY

    def test_policy_as_json_text_is_evaluated_like_the_mapping(self):
        assert put(json.dumps(GLOBAL_BUS_POLICY), ORDER) is Decision.ALLOW

    def test_docs_example_for_all_values_source_and_detail_type(self):
        # EventBridge User Guide, "Example policy: Send events to a custom bus in a
        # different account" (eb-event-bus-example-policy-cross-account-custom-bus-source).
        docs_policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "WebStoreCrossAccountPublish",
                "Effect": "Allow",
                "Action": ["events:PutEvents"],
                "Principal": {"AWS": f"arn:aws:iam::{ORDER_ACCOUNT}:root"},
                "Resource": GLOBAL_BUS,
                "Condition": {
                    "ForAllValues:StringEquals": {"events:source": "com.exampleCorp.webStore"},
                    "StringEquals": {"events:detail-type": "newOrderCreated"},
                },
            }],
        }
        ok = {"source": "com.exampleCorp.webStore", "events:detail-type": "newOrderCreated"}
        assert put(docs_policy, ORDER, **ok) is Decision.ALLOW
        assert put(docs_policy, ORDER, source="com.other") is Decision.IMPLICIT_DENY
        assert put(
            docs_policy, ORDER, source="com.exampleCorp.webStore",
            **{"events:detail-type": "somethingElse"},
        ) is Decision.IMPLICIT_DENY

    def test_organization_condition(self):
        org_policy = {
            "Version": "2012-10-17",
            "Statement": [publish_statement(
                ORDER_ACCOUNT, ["order-service"],
                StringEqualsIgnoreCase={"aws:PrincipalOrgID": ORG.upper()},
            )],
        }
        assert put(org_policy, ORDER, **{"aws:PrincipalOrgID": ORG}) is Decision.ALLOW
        assert put(org_policy, ORDER, **{"aws:PrincipalOrgID": "o-zzzzzzzzzz"}) is (
            Decision.IMPLICIT_DENY
        )
        # A missing key fails a positive operator.
        assert put(org_policy, ORDER) is Decision.IMPLICIT_DENY

    def test_whole_organization_with_a_star_principal(self):
        # CloudFormation AWS::Events::EventBusPolicy: Principal "*" plus the org id condition.
        org_wide = {"Statement": {
            "Sid": "Org", "Effect": "Allow", "Principal": "*", "Action": PUT,
            "Resource": GLOBAL_BUS,
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
        }}
        assert put(org_wide, Principal(account=STRANGER), **{"aws:PrincipalOrgID": ORG}) is (
            Decision.ALLOW
        )
        assert put(org_wide, Principal(account=STRANGER)) is Decision.IMPLICIT_DENY

    def test_detail_type_prefix_with_string_like(self):
        like = {"Statement": [publish_statement(
            ORDER_ACCOUNT, ["order-service"],
            StringLike={"events:detail-type": ["Order.*", "Refund.Issue?"]},
        )]}
        assert put(like, ORDER, **{"events:detail-type": "Order.Updated"}) is Decision.ALLOW
        assert put(like, ORDER, **{"events:detail-type": "Refund.Issued"}) is Decision.ALLOW
        assert put(like, ORDER, **{"events:detail-type": "Refund.Issue"}) is (
            Decision.IMPLICIT_DENY
        )
        assert put(like, ORDER, **{"events:detail-type": "Delivery.Updated"}) is (
            Decision.IMPLICIT_DENY
        )

    def test_explicit_deny_of_bus_invocations_wins_over_the_allow(self):
        guarded = {"Version": "2012-10-17", "Statement": [
            publish_statement(ORDER_ACCOUNT, ["order-service"]),
            {"Sid": "NoForwardedEvents", "Effect": "Deny", "Principal": "*", "Action": PUT,
             "Resource": GLOBAL_BUS,
             "Condition": {"Bool": {"events:eventBusInvocation": "true"}}},
        ]}
        assert put(guarded, ORDER, **{"events:eventBusInvocation": "false"}) is Decision.ALLOW
        assert put(guarded, ORDER, **{"events:eventBusInvocation": "TRUE"}) is (
            Decision.EXPLICIT_DENY
        )
        assert put(guarded, ORDER, **{"events:eventBusInvocation": True}) is (
            Decision.EXPLICIT_DENY
        )


class TestLocalBusPolicy:
    """The service's bus admits only the bus account's forwarding role."""

    POLICY = {"Version": "2012-10-17", "Statement": [{
        "Sid": "ForwardFromGlobalBus", "Effect": "Allow",
        "Principal": {"AWS": FORWARD_ROLE}, "Action": PUT, "Resource": ORDER_BUS,
        "Condition": {"Bool": {"events:eventBusInvocation": "true"}},
    }]}

    def test_the_forwarding_role_and_its_sessions_are_admitted(self):
        context = {"events:eventBusInvocation": "true"}
        for who in (Principal(arn=FORWARD_ROLE), Principal(arn=FORWARD_SESSION)):
            assert put(self.POLICY, who, resource=ORDER_BUS, **context) is Decision.ALLOW

    def test_other_principals_of_the_bus_account_are_not(self):
        other_role = Principal(arn=f"arn:aws:sts::{BUS_ACCOUNT}:assumed-role/Admin/s")
        context = {"events:eventBusInvocation": "true"}
        assert put(self.POLICY, other_role, resource=ORDER_BUS, **context) is (
            Decision.IMPLICIT_DENY
        )
        assert put(self.POLICY, Principal(account=BUS_ACCOUNT), resource=ORDER_BUS,
                   **context) is Decision.IMPLICIT_DENY

    def test_direct_put_events_by_the_role_is_not_a_bus_invocation(self):
        assert put(self.POLICY, Principal(arn=FORWARD_SESSION), resource=ORDER_BUS,
                   **{"events:eventBusInvocation": "false"}) is Decision.IMPLICIT_DENY

    def test_a_role_with_a_path_matches_its_sessions(self):
        with_path = {"Statement": {
            "Effect": "Allow", "Principal": {"AWS": [
                f"arn:aws:iam::{DELIVERY_ACCOUNT}:root",
                f"arn:aws:iam::{BUS_ACCOUNT}:role/backbone/forwarders/fwd",
            ]}, "Action": PUT, "Resource": ORDER_BUS,
        }}
        session = Principal(arn=f"arn:aws:sts::{BUS_ACCOUNT}:assumed-role/fwd/x")
        assert put(with_path, session, resource=ORDER_BUS) is Decision.ALLOW
        assert put(with_path, DELIVERY, resource=ORDER_BUS) is Decision.ALLOW


class TestCrossAccountHelper:
    def test_cross_account_needs_an_allow(self):
        assert is_allowed_cross_account(
            GLOBAL_BUS_POLICY, principal=ORDER, action=PUT, resource=GLOBAL_BUS,
            context={"events:source": "order-service"},
        )
        assert not is_allowed_cross_account(
            None, principal=ORDER, action=PUT, resource=GLOBAL_BUS, context={},
        )

    def test_same_account_callers_need_no_resource_policy_but_respect_deny(self):
        owner = Principal(account=BUS_ACCOUNT)
        assert is_allowed_cross_account(None, principal=owner, action=PUT,
                                        resource=GLOBAL_BUS, context={})
        deny_all = {"Statement": {"Effect": "Deny", "Principal": "*", "Action": "events:*",
                                  "Resource": "*"}}
        assert not is_allowed_cross_account(deny_all, principal=owner, action=PUT,
                                            resource=GLOBAL_BUS, context={})


# --- SQS queue policy for EventBridge dead-letter queues ----------------------


class TestDeadLetterQueuePolicy:
    # EventBridge User Guide, "Using dead-letter queues": events.amazonaws.com may
    # sqs:SendMessage when aws:SourceArn is the rule's ARN.
    POLICY = {"Version": "2012-10-17", "Statement": [{
        "Sid": "ForwardRulesMaySendDeadLetters", "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": DLQ,
        "Condition": {"ArnEquals": {"aws:SourceArn": [
            FORWARD_RULE, FORWARD_RULE.replace("order-service", "delivery-service"),
        ]}},
    }]}

    def send(self, principal, source_arn=None, resource=DLQ):
        context = {} if source_arn is None else {"aws:SourceArn": source_arn}
        return evaluate(self.POLICY, principal=principal, action="sqs:SendMessage",
                        resource=resource, context=context)

    def test_listed_rules_may_send(self):
        assert self.send(EVENTS, FORWARD_RULE) is Decision.ALLOW
        assert self.send(EVENTS, FORWARD_RULE.replace("order", "delivery")) is Decision.ALLOW

    def test_other_rules_other_services_and_accounts_may_not(self):
        other_rule = FORWARD_RULE.replace("global-to-order-service", "log-all-events")
        assert self.send(EVENTS, other_rule) is Decision.IMPLICIT_DENY
        assert self.send(EVENTS) is Decision.IMPLICIT_DENY  # no aws:SourceArn
        assert self.send(Principal(service="sns.amazonaws.com"), FORWARD_RULE) is (
            Decision.IMPLICIT_DENY
        )
        assert self.send(Principal(account=BUS_ACCOUNT), FORWARD_RULE) is (
            Decision.IMPLICIT_DENY
        )
        assert self.send(EVENTS, FORWARD_RULE, resource=DLQ + "-other") is (
            Decision.IMPLICIT_DENY
        )

    def test_arn_like_wildcards_apply_per_segment(self):
        like = json.loads(json.dumps(self.POLICY))
        like["Statement"][0]["Condition"] = {"ArnLike": {
            "aws:SourceArn": f"arn:aws:events:*:{BUS_ACCOUNT}:rule/global-bus/global-to-*"}}
        assert evaluate(like, principal=EVENTS, action="sqs:SendMessage", resource=DLQ,
                        context={"aws:SourceArn": FORWARD_RULE}) is Decision.ALLOW
        # The account segment must match on its own: no spill-over across colons.
        spoof = f"arn:aws:events:{REGION}:{STRANGER}:rule/global-bus/global-to-x"
        assert evaluate(like, principal=EVENTS, action="sqs:SendMessage", resource=DLQ,
                        context={"aws:SourceArn": spoof}) is Decision.IMPLICIT_DENY
        assert evaluate(like, principal=EVENTS, action="sqs:SendMessage", resource=DLQ,
                        context={"aws:SourceArn": "not-an-arn"}) is Decision.IMPLICIT_DENY


# --- CloudWatch Logs resource policy for EventBridge --------------------------


class TestLogsResourcePolicy:
    """The two-statement Logs policy of infra_bootstrap/desired.py, evaluated with the
    context EventBridge sends with each call: nothing with logs:CreateLogStream,
    aws:SourceArn (and aws:SourceAccount) with logs:PutLogEvents (aws-samples/
    serverless-patterns PR #618; targets.LOGS_CALLS)."""

    LOG_GROUP = f"arn:aws:logs:{REGION}:{BUS_ACCOUNT}:log-group:/aws/events/backbone/global-bus"
    GROUPS = f"arn:aws:logs:{REGION}:{BUS_ACCOUNT}:log-group:/aws/events/backbone/*"
    PRINCIPAL = {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]}
    RULE = f"arn:aws:events:{REGION}:{BUS_ACCOUNT}:rule/global-bus/log-all-events"
    POLICY = {"Version": "2012-10-17", "Statement": [
        {"Sid": "EventBridgeCreatesEventLogStreams", "Effect": "Allow", "Principal": PRINCIPAL,
         "Action": "logs:CreateLogStream", "Resource": GROUPS},
        {"Sid": "EventBridgeRulesWriteEventLogs", "Effect": "Allow", "Principal": PRINCIPAL,
         "Action": "logs:PutLogEvents", "Resource": GROUPS,
         "Condition": {"ArnEquals": {"aws:SourceArn": [RULE]}}},
    ]}
    STREAM = f"{LOG_GROUP}:log-stream:abc"

    def put(self, principal=EVENTS, resource=None, **context):
        context = {"aws:SourceArn": self.RULE, "aws:SourceAccount": BUS_ACCOUNT, **context}
        return evaluate(self.POLICY, principal=principal, action="logs:PutLogEvents",
                        resource=resource or self.STREAM, context=context)

    def create(self, principal=EVENTS, resource=None):
        return evaluate(self.POLICY, principal=principal, action="logs:CreateLogStream",
                        resource=resource or self.STREAM, context={})

    def test_eventbridge_may_create_streams_and_put_events_of_its_logging_rule(self):
        assert self.create() is Decision.ALLOW
        assert self.put() is Decision.ALLOW
        delivery = Principal(service="delivery.logs.amazonaws.com")
        assert self.create(delivery) is Decision.ALLOW
        assert self.put(delivery) is Decision.ALLOW

    def test_put_log_events_needs_the_rule_arn_in_the_context(self):
        foreign_rule = f"arn:aws:events:{REGION}:{STRANGER}:rule/global-bus/log-all-events"
        assert self.put(**{"aws:SourceArn": foreign_rule}) is Decision.IMPLICIT_DENY
        assert evaluate(self.POLICY, principal=EVENTS, action="logs:PutLogEvents",
                        resource=self.STREAM, context={}) is Decision.IMPLICIT_DENY

    def test_conditioning_create_log_stream_on_the_rule_arn_denies_it(self):
        # The pre-PR #618 shape: one statement for both actions, conditioned on the rule.
        both = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": self.PRINCIPAL,
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": self.GROUPS,
            "Condition": {"ArnEquals": {"aws:SourceArn": self.RULE}}}]}
        assert evaluate(both, principal=EVENTS, action="logs:CreateLogStream",
                        resource=self.STREAM, context={}) is Decision.IMPLICIT_DENY

    def test_nothing_else(self):
        foreign_group = f"arn:aws:logs:{REGION}:{BUS_ACCOUNT}:log-group:/aws/lambda/x:*"
        assert self.put(resource=foreign_group) is Decision.IMPLICIT_DENY
        assert self.create(resource=foreign_group) is Decision.IMPLICIT_DENY
        assert evaluate(self.POLICY, principal=EVENTS, action="logs:DeleteLogGroup",
                        resource=self.STREAM, context={}) is Decision.IMPLICIT_DENY
        assert self.create(Principal(service="lambda.amazonaws.com")) is Decision.IMPLICIT_DENY

    def test_resources_are_case_sensitive(self):
        upper = f"arn:aws:logs:{REGION}:{BUS_ACCOUNT}:log-group:/AWS/events/backbone/g:*"
        assert self.put(resource=upper) is Decision.IMPLICIT_DENY


# --- IAM roles: trust policy and inline policy ---------------------------------


class TestForwardingRole:
    TRUST = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": BUS_ACCOUNT}},
    }]}
    INLINE = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "events:PutEvents", "Resource": ORDER_BUS,
    }]}

    def assume(self, principal, **context):
        return evaluate(self.TRUST, principal=principal, action="sts:AssumeRole",
                        resource=FORWARD_ROLE, context=context)

    def test_trusted_only_by_eventbridge_of_the_bus_account(self):
        assert self.assume(EVENTS, **{"aws:SourceAccount": BUS_ACCOUNT}) is Decision.ALLOW
        assert self.assume(EVENTS, **{"aws:SourceAccount": STRANGER}) is Decision.IMPLICIT_DENY
        assert self.assume(Principal(service="lambda.amazonaws.com"),
                           **{"aws:SourceAccount": BUS_ACCOUNT}) is Decision.IMPLICIT_DENY
        assert self.assume(Principal(account=BUS_ACCOUNT),
                           **{"aws:SourceAccount": BUS_ACCOUNT}) is Decision.IMPLICIT_DENY

    def test_inline_policy_allows_put_events_on_that_one_bus(self):
        assert is_allowed_by_identity([self.INLINE], action=PUT, resource=ORDER_BUS)
        other_bus = ORDER_BUS.replace("order-service", "delivery-service")
        assert not is_allowed_by_identity([self.INLINE], action=PUT, resource=other_bus)
        assert not is_allowed_by_identity([self.INLINE], action="events:PutRule",
                                          resource=ORDER_BUS)
        assert not is_allowed_by_identity([], action=PUT, resource=ORDER_BUS)

    def test_a_deny_in_any_identity_policy_wins(self):
        deny = {"Statement": {"Effect": "Deny", "Action": "events:*", "Resource": "*"}}
        assert not is_allowed_by_identity([self.INLINE, deny], action=PUT, resource=ORDER_BUS)
        assert is_allowed_by_identity([None, json.dumps(self.INLINE)], action=PUT,
                                      resource=ORDER_BUS)


# --- the rules one by one -----------------------------------------------------


def allow(**statement) -> dict:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": PUT,
                           "Resource": "*", **statement}]}


def ask(policy, *, action=PUT, resource=GLOBAL_BUS, principal=ORDER, **context):
    return evaluate(policy, principal=principal, action=action, resource=resource,
                    context=context)


class TestActionsAndResources:
    @pytest.mark.parametrize("pattern", ["events:PutEvents", "EVENTS:putevents", "events:Put*",
                                         "events:*", "*", "events:PutEvent?"])
    def test_actions_match_case_insensitively_with_wildcards(self, pattern):
        assert ask(allow(Action=pattern)) is Decision.ALLOW

    @pytest.mark.parametrize("pattern", ["events:PutRule", "sqs:*", "events:PutEvent"])
    def test_other_actions_do_not_match(self, pattern):
        assert ask(allow(Action=pattern)) is Decision.IMPLICIT_DENY

    def test_not_action(self):
        policy = allow(NotAction=["events:Delete*", "events:Remove*"])
        del policy["Statement"][0]["Action"]
        assert ask(policy) is Decision.ALLOW
        assert ask(policy, action="events:DeleteEventBus") is Decision.IMPLICIT_DENY

    @pytest.mark.parametrize("pattern, allowed", [
        (GLOBAL_BUS, True),
        (f"arn:aws:events:{REGION}:{BUS_ACCOUNT}:event-bus/*", True),
        (f"arn:aws:events:*:{BUS_ACCOUNT}:event-bus/global-?us", True),
        (f"arn:aws:events:{REGION}:*:*", True),
        (GLOBAL_BUS.replace("global-bus", "Global-Bus"), False),
        (f"arn:aws:events:{REGION}:{ORDER_ACCOUNT}:event-bus/*", False),
        (f"arn:aws:events:{REGION}:{BUS_ACCOUNT}:event-bus/global-bu?s", False),
    ])
    def test_resources_match_case_sensitively_per_segment(self, pattern, allowed):
        expected = Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
        assert ask(allow(Resource=pattern)) is expected

    def test_not_resource(self):
        policy = allow(NotResource=GLOBAL_BUS)
        del policy["Statement"][0]["Resource"]
        assert ask(policy) is Decision.IMPLICIT_DENY
        assert ask(policy, resource=ORDER_BUS) is Decision.ALLOW

    def test_single_statement_object_or_list(self):
        statement = allow()["Statement"][0]
        assert ask({"Statement": statement}) is Decision.ALLOW
        assert ask({"Statement": [statement]}) is Decision.ALLOW


class TestPrincipals:
    SESSION = f"arn:aws:sts::{ORDER_ACCOUNT}:assumed-role/api/s1"

    @pytest.mark.parametrize("element, who, allowed", [
        ("*", Principal(account=STRANGER), True),
        ({"AWS": "*"}, Principal(arn=SESSION), True),
        ({"AWS": ORDER_ACCOUNT}, Principal(arn=SESSION), True),
        ({"AWS": ORDER_ACCOUNT}, Principal(account=ORDER_ACCOUNT), True),
        ({"AWS": f"arn:aws:iam::{ORDER_ACCOUNT}:root"}, Principal(arn=SESSION), True),
        ({"AWS": f"arn:aws:iam::{ORDER_ACCOUNT}:root"}, Principal(account=STRANGER), False),
        ({"AWS": f"arn:aws:iam::{ORDER_ACCOUNT}:role/api"}, Principal(arn=SESSION), True),
        ({"AWS": f"arn:aws:iam::{ORDER_ACCOUNT}:role/api"},
         Principal(arn=f"arn:aws:iam::{ORDER_ACCOUNT}:role/api"), True),
        ({"AWS": f"arn:aws:iam::{ORDER_ACCOUNT}:role/other"}, Principal(arn=SESSION), False),
        ({"AWS": f"arn:aws:iam::{STRANGER}:role/api"}, Principal(arn=SESSION), False),
        ({"AWS": f"arn:aws:iam::{ORDER_ACCOUNT}:role/api"},
         Principal(account=ORDER_ACCOUNT), False),
        ({"AWS": f"arn:aws:iam::{ORDER_ACCOUNT}:user/alice"},
         Principal(arn=f"arn:aws:iam::{ORDER_ACCOUNT}:user/alice"), True),
        ({"AWS": [STRANGER, ORDER_ACCOUNT]}, Principal(account=ORDER_ACCOUNT), True),
        ({"Service": "events.amazonaws.com"}, EVENTS, True),
        ({"Service": ["sqs.amazonaws.com", "events.amazonaws.com"]}, EVENTS, True),
        ({"Service": "events.amazonaws.com"}, Principal(account=ORDER_ACCOUNT), False),
        ({"AWS": ORDER_ACCOUNT}, EVENTS, False),
        ({"Federated": "cognito-identity.amazonaws.com"}, Principal(account=ORDER_ACCOUNT),
         False),
    ])
    def test_principal_forms(self, element, who, allowed):
        expected = Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
        assert ask(allow(Principal=element), principal=who) is expected

    def test_a_resource_policy_statement_without_principal_never_applies(self):
        policy = allow()
        del policy["Statement"][0]["Principal"]
        assert ask(policy) is Decision.IMPLICIT_DENY
        # ... while the same statement as an identity policy does.
        assert evaluate(policy, principal=None, action=PUT, resource=GLOBAL_BUS) is (
            Decision.ALLOW
        )

    def test_not_principal_with_deny_spares_only_the_listed_principals(self):
        session = f"arn:aws:sts::{BUS_ACCOUNT}:assumed-role/admin/s"
        policy = {"Statement": [
            allow()["Statement"][0],
            {"Effect": "Deny", "Action": PUT, "Resource": "*",
             "NotPrincipal": {"AWS": [f"arn:aws:iam::{BUS_ACCOUNT}:root",
                                      f"arn:aws:iam::{BUS_ACCOUNT}:role/admin", session],
                              "Service": "events.amazonaws.com"}},
        ]}
        assert ask(policy, principal=Principal(arn=session)) is Decision.ALLOW
        assert ask(policy, principal=Principal(account=BUS_ACCOUNT)) is Decision.ALLOW
        assert ask(policy, principal=EVENTS) is Decision.ALLOW
        other = Principal(arn=f"arn:aws:sts::{BUS_ACCOUNT}:assumed-role/admin/other")
        assert ask(policy, principal=other) is Decision.EXPLICIT_DENY
        assert ask(policy, principal=ORDER) is Decision.EXPLICIT_DENY

    def test_not_principal_needs_the_account_listed_too(self):
        session = f"arn:aws:sts::{BUS_ACCOUNT}:assumed-role/admin/s"
        policy = {"Statement": [
            allow()["Statement"][0],
            {"Effect": "Deny", "Action": PUT, "Resource": "*", "NotPrincipal": {"AWS": session}},
        ]}
        assert ask(policy, principal=Principal(arn=session)) is Decision.EXPLICIT_DENY

    def test_not_principal_needs_the_role_of_a_session_listed_too(self):
        # The guide's example lists the session, its role and the account: without the role
        # "the effect of the policy might be to explicitly deny access to the role".
        session = f"arn:aws:sts::{BUS_ACCOUNT}:assumed-role/admin/s"

        def deny_except(*spared):
            return {"Statement": [
                allow()["Statement"][0],
                {"Effect": "Deny", "Action": PUT, "Resource": "*",
                 "NotPrincipal": {"AWS": [f"arn:aws:iam::{BUS_ACCOUNT}:root", *spared]}}]}

        caller = Principal(arn=session)
        assert ask(deny_except(session), principal=caller) is Decision.EXPLICIT_DENY
        assert ask(deny_except(f"arn:aws:iam::{BUS_ACCOUNT}:role/admin"),
                   principal=caller) is Decision.EXPLICIT_DENY
        assert ask(deny_except(f"arn:aws:iam::{BUS_ACCOUNT}:role/ops/admin", session),
                   principal=caller) is Decision.ALLOW  # a role ARN may carry a path
        assert ask(deny_except(f"arn:aws:iam::{BUS_ACCOUNT}:role/admin"),
                   principal=Principal(arn=f"arn:aws:iam::{BUS_ACCOUNT}:role/admin")
                   ) is Decision.ALLOW

    def test_not_principal_with_allow_never_allows(self):
        policy = {"Statement": {"Effect": "Allow", "Action": PUT, "Resource": "*",
                                "NotPrincipal": {"AWS": STRANGER}}}
        assert ask(policy) is Decision.IMPLICIT_DENY

    def test_principal_keys_are_derived_for_conditions(self):
        by_role = allow(Condition={
            "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ORDER_ACCOUNT}:role/api"},
            "StringEquals": {"aws:PrincipalAccount": ORDER_ACCOUNT},
        })
        assert ask(by_role, principal=Principal(arn=self.SESSION)) is Decision.ALLOW
        other = Principal(arn=f"arn:aws:sts::{ORDER_ACCOUNT}:assumed-role/other/s1")
        assert ask(by_role, principal=other) is Decision.IMPLICIT_DENY
        by_service = allow(Condition={
            "StringEquals": {"aws:PrincipalServiceName": "events.amazonaws.com"}})
        assert ask(by_service, principal=EVENTS) is Decision.ALLOW


class TestConditions:
    def test_several_values_for_a_key_are_ored(self):
        policy = allow(Condition={"StringEquals": {"events:source": ["a", "b"]}})
        assert ask(policy, **{"events:source": "b"}) is Decision.ALLOW
        assert ask(policy, **{"events:source": "c"}) is Decision.IMPLICIT_DENY

    def test_several_keys_and_operators_are_anded(self):
        policy = allow(Condition={
            "StringEquals": {"events:source": "a", "aws:PrincipalAccount": ORDER_ACCOUNT},
            "StringLike": {"events:detail-type": "Order.*"},
        })
        good = {"events:source": "a", "events:detail-type": "Order.Created"}
        assert ask(policy, **good) is Decision.ALLOW
        assert ask(policy, **{**good, "events:source": "b"}) is Decision.IMPLICIT_DENY
        assert ask(policy, **{**good, "events:detail-type": "X"}) is Decision.IMPLICIT_DENY
        assert ask(policy, principal=DELIVERY, **good) is Decision.IMPLICIT_DENY

    def test_condition_keys_are_case_insensitive_values_are_not(self):
        policy = allow(Condition={"StringEquals": {"Events:Source": "order-service"}})
        assert ask(policy, **{"events:source": "order-service"}) is Decision.ALLOW
        assert ask(policy, **{"EVENTS:SOURCE": "order-service"}) is Decision.ALLOW
        assert ask(policy, **{"events:source": "Order-Service"}) is Decision.IMPLICIT_DENY

    @pytest.mark.parametrize("operator, value, allowed", [
        ("StringEquals", "order-service", True),
        ("StringEquals", "order-*", False),
        ("StringNotEquals", "order-service", False),
        ("StringNotEquals", "delivery-service", True),
        ("StringEqualsIgnoreCase", "ORDER-SERVICE", True),
        ("StringNotEqualsIgnoreCase", "ORDER-SERVICE", False),
        ("StringLike", "order-*", True),
        ("StringLike", "order-servic?", True),
        ("StringLike", "Order-*", False),
        ("StringNotLike", "delivery-*", True),
        ("StringNotLike", "*-service", False),
    ])
    def test_string_operators(self, operator, value, allowed):
        policy = allow(Condition={operator: {"events:source": value}})
        expected = Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
        assert ask(policy, **{"events:source": "order-service"}) is expected

    @pytest.mark.parametrize("operator, value, allowed", [
        ("ArnEquals", FORWARD_RULE, True),
        ("ArnLike", f"arn:aws:events:{REGION}:{BUS_ACCOUNT}:rule/*", True),
        ("ArnEquals", f"arn:aws:events:{REGION}:{BUS_ACCOUNT}:rule/global-bus/*", True),
        ("ArnNotEquals", FORWARD_RULE, False),
        ("ArnNotLike", f"arn:aws:events:*:{STRANGER}:*", True),
        ("ArnLike", f"arn:aws:events:{REGION}:{STRANGER}:rule/*", False),
    ])
    def test_arn_operators(self, operator, value, allowed):
        policy = allow(Condition={operator: {"aws:SourceArn": value}})
        expected = Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
        assert ask(policy, **{"aws:SourceArn": FORWARD_RULE}) is expected

    def test_a_missing_key_fails_positive_operators_and_satisfies_negated_ones(self):
        for operator in ("StringEquals", "StringLike", "ArnLike", "Bool", "NumericEquals"):
            policy = allow(Condition={operator: {"aws:SourceArn": "x"}})
            assert ask(policy) is Decision.IMPLICIT_DENY, operator
        for operator in ("StringNotEquals", "StringNotLike", "ArnNotLike", "ArnNotEquals"):
            policy = allow(Condition={operator: {"aws:SourceArn": "x"}})
            assert ask(policy) is Decision.ALLOW, operator

    def test_if_exists(self):
        policy = allow(Condition={"StringEqualsIfExists": {"events:source": "order-service"}})
        assert ask(policy) is Decision.ALLOW
        assert ask(policy, **{"events:source": "order-service"}) is Decision.ALLOW
        assert ask(policy, **{"events:source": "other"}) is Decision.IMPLICIT_DENY
        arn_policy = allow(Condition={"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:events:*"}})
        assert ask(arn_policy) is Decision.ALLOW

    def test_null(self):
        must_be_absent = allow(Condition={"Null": {"aws:SourceArn": "true"}})
        must_be_present = allow(Condition={"Null": {"aws:SourceArn": False}})
        assert ask(must_be_absent) is Decision.ALLOW
        assert ask(must_be_absent, **{"aws:SourceArn": FORWARD_RULE}) is Decision.IMPLICIT_DENY
        assert ask(must_be_present) is Decision.IMPLICIT_DENY
        assert ask(must_be_present, **{"aws:SourceArn": FORWARD_RULE}) is Decision.ALLOW

    def test_bool_accepts_json_booleans_and_any_case(self):
        policy = allow(Condition={"Bool": {"aws:SecureTransport": True}})
        assert ask(policy, **{"aws:SecureTransport": "True"}) is Decision.ALLOW
        assert ask(policy, **{"aws:SecureTransport": "false"}) is Decision.IMPLICIT_DENY

    @pytest.mark.parametrize("operator, allowed", [
        ("NumericEquals", False), ("NumericNotEquals", True), ("NumericLessThan", True),
        ("NumericLessThanEquals", True), ("NumericGreaterThan", False),
        ("NumericGreaterThanEquals", False),
    ])
    def test_numeric_operators(self, operator, allowed):
        policy = allow(Condition={operator: {"test:size": "10"}})
        expected = Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
        assert ask(policy, **{"test:size": "9.5"}) is expected
        assert ask(allow(Condition={"NumericLessThan": {"test:size": 10}}),
                   **{"test:size": "not a number"}) is Decision.IMPLICIT_DENY

    def test_for_any_value_and_for_all_values_on_multivalued_keys(self):
        any_of = allow(Condition={"ForAnyValue:StringEquals": {"test:tags": ["a", "b"]}})
        all_of = allow(Condition={"ForAllValues:StringEquals": {"test:tags": ["a", "b"]}})
        assert ask(any_of, **{"test:tags": ["b", "z"]}) is Decision.ALLOW
        assert ask(any_of, **{"test:tags": ["y", "z"]}) is Decision.IMPLICIT_DENY
        assert ask(all_of, **{"test:tags": ["a", "b"]}) is Decision.ALLOW
        assert ask(all_of, **{"test:tags": ["a", "z"]}) is Decision.IMPLICIT_DENY
        # Missing key: ForAllValues holds (vacuously), ForAnyValue does not.
        assert ask(all_of) is Decision.ALLOW
        assert ask(any_of) is Decision.IMPLICIT_DENY
        assert ask(allow(Condition={"ForAnyValue:StringEqualsIfExists": {"test:tags": "a"}}),
                   ) is Decision.ALLOW

    def test_negated_set_operators(self):
        none_of = allow(Condition={"ForAllValues:StringNotEquals": {"test:tags": ["x"]}})
        assert ask(none_of, **{"test:tags": ["a", "b"]}) is Decision.ALLOW
        assert ask(none_of, **{"test:tags": ["a", "x"]}) is Decision.IMPLICIT_DENY
        some_not = allow(Condition={"ForAnyValue:StringNotLike": {"test:tags": ["x*"]}})
        assert ask(some_not, **{"test:tags": ["x1", "a"]}) is Decision.ALLOW
        assert ask(some_not, **{"test:tags": ["x1", "x2"]}) is Decision.IMPLICIT_DENY

    def test_unqualified_operator_on_multivalued_key(self):
        positive = allow(Condition={"StringEquals": {"test:tags": "a"}})
        negated = allow(Condition={"StringNotEquals": {"test:tags": "a"}})
        assert ask(positive, **{"test:tags": ["z", "a"]}) is Decision.ALLOW
        assert ask(negated, **{"test:tags": ["z", "a"]}) is Decision.IMPLICIT_DENY
        assert ask(negated, **{"test:tags": ["z", "y"]}) is Decision.ALLOW

    @pytest.mark.parametrize("operator", [
        "DateLessThan", "IpAddress", "BinaryEquals", "StringSortaEquals",
        "ForSomeValues:StringEquals",
    ])
    def test_unknown_operators_fail_closed(self, operator):
        condition = {operator: {"aws:SourceArn": FORWARD_RULE}}
        context = {"aws:SourceArn": FORWARD_RULE}
        # An Allow whose condition cannot be evaluated does not apply ...
        assert ask(allow(Condition=condition), **context) is Decision.IMPLICIT_DENY
        # ... and a Deny whose condition cannot be evaluated does.
        deny = {"Statement": [allow()["Statement"][0],
                              {"Effect": "Deny", "Principal": "*", "Action": PUT,
                               "Resource": "*", "Condition": condition}]}
        assert ask(deny, **context) is Decision.EXPLICIT_DENY

    def test_a_false_condition_beside_an_unknown_one_keeps_a_deny_from_applying(self):
        deny = {"Statement": [allow()["Statement"][0],
                              {"Effect": "Deny", "Principal": "*", "Action": PUT,
                               "Resource": "*", "Condition": {
                                   "DateLessThan": {"aws:CurrentTime": "2030-01-01"},
                                   "StringEquals": {"events:source": "blocked"}}}]}
        assert ask(deny, **{"events:source": "order-service"}) is Decision.ALLOW


class TestPolicyVariables:
    def test_variables_in_condition_values_and_resources(self):
        policy = allow(
            Resource="arn:aws:events:*:${aws:PrincipalAccount}:event-bus/*",
            Condition={"StringLike": {"events:source": "${aws:PrincipalAccount}.*"}},
        )
        own_bus = f"arn:aws:events:{REGION}:{ORDER_ACCOUNT}:event-bus/x"
        assert ask(policy, resource=own_bus, **{"events:source": f"{ORDER_ACCOUNT}.orders"}) is (
            Decision.ALLOW
        )
        assert ask(policy, resource=GLOBAL_BUS,
                   **{"events:source": f"{ORDER_ACCOUNT}.orders"}) is Decision.IMPLICIT_DENY
        assert ask(policy, resource=own_bus, **{"events:source": "x.orders"}) is (
            Decision.IMPLICIT_DENY
        )

    def test_substituted_values_and_escapes_are_literal(self):
        policy = allow(Condition={"StringLike": {"events:source": "a${*}b"}})
        assert ask(policy, **{"events:source": "a*b"}) is Decision.ALLOW
        assert ask(policy, **{"events:source": "axxb"}) is Decision.IMPLICIT_DENY

    def test_default_value_and_missing_variable(self):
        with_default = allow(Condition={
            "StringEquals": {"events:source": "${test:team, 'orders'}"}})
        assert ask(with_default, **{"events:source": "orders"}) is Decision.ALLOW
        missing = allow(Condition={"StringEquals": {"events:source": "${test:team}"}})
        assert ask(missing, **{"events:source": "${test:team}"}) is Decision.IMPLICIT_DENY

    def test_version_2008_treats_variables_as_text(self):
        policy = allow(Condition={"StringEquals": {"events:source": "${test:team}"}})
        policy["Version"] = "2008-10-17"
        assert ask(policy, **{"events:source": "${test:team}", "test:team": "x"}) is (
            Decision.ALLOW
        )


class TestDocuments:
    @pytest.mark.parametrize("document", [
        "{not json",
        "[]",
        {"Version": "2012-10-17"},
        {"Statement": [{"Effect": "Maybe", "Action": PUT, "Principal": "*"}]},
        {"Statement": [{"Effect": "Allow", "Principal": "*"}]},
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": PUT, "NotAction": PUT}]},
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": PUT,
                        "Condition": {"StringEquals": "x"}}]},
        {"Statement": ["not a statement"]},
    ])
    def test_malformed_policies_raise_a_typed_error(self, document):
        with pytest.raises(PolicyError):
            ask(document)

    def test_parsed_policies_are_cached_by_their_text(self):
        text = json.dumps(GLOBAL_BUS_POLICY) + " "  # a text no other test uses
        before = policy_module._parse_text.cache_info()
        for _ in range(50):
            assert put(text, ORDER) is Decision.ALLOW
        after = policy_module._parse_text.cache_info()
        assert after.misses - before.misses == 1
        assert after.hits - before.hits == 49

    def test_docstring_examples(self):
        results = doctest.testmod(policy_module)
        assert results.attempted > 0
        assert results.failed == 0
