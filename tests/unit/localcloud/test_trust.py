"""AssumeRole's trust decisions (pure): who a trust policy admits, with which conditions,
and the AccessDenied text AWS gives otherwise."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud.policy import Principal
from localcloud.state import Role
from localcloud.trust import (
    assume_refusal,
    is_organization_role,
    organization_role_trust,
    service_refusal,
)

MANAGEMENT = "123456789012"
MEMBER_ROLE = "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole"
RULE = "arn:aws:events:eu-west-1:111111111111:rule/global-bus/global-to-order-service"


def role(arn: str, *statements: dict[str, Any]) -> Role:
    return Role(arn, json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), ())


def allow(principal: dict[str, Any], condition: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole",
            **({"Condition": condition} if condition else {})}


@pytest.mark.parametrize("caller", [
    "arn:aws:iam::123456789012:root",
    "arn:aws:iam::123456789012:user/ops",
    "arn:aws:sts::123456789012:assumed-role/Deployer/ci",
])
def test_the_organization_role_admits_every_principal_of_the_management_account(
        caller: str) -> None:
    member = Role(MEMBER_ROLE, organization_role_trust(MANAGEMENT), ())

    assert assume_refusal(member, MEMBER_ROLE, Principal(arn=caller)) is None


def test_the_organization_role_refuses_another_member_account_in_aws_words() -> None:
    member = Role(MEMBER_ROLE, organization_role_trust(MANAGEMENT), ())
    order = "arn:aws:sts::222222222222:assumed-role/OrganizationAccountAccessRole/s"

    assert assume_refusal(member, MEMBER_ROLE, Principal(arn=order)) == (
        f"User: {order} is not authorized to perform: sts:AssumeRole on resource: "
        f"{MEMBER_ROLE}")


def test_a_missing_role_is_refused_as_a_refusing_one() -> None:
    arn = "arn:aws:iam::111111111111:role/NoSuchRole"

    assert assume_refusal(None, arn, Principal(arn="arn:aws:iam::123456789012:root")) == (
        f"User: arn:aws:iam::123456789012:root is not authorized to perform: sts:AssumeRole "
        f"on resource: {arn}")


def test_a_role_principal_admits_its_sessions_and_nobody_else_of_its_account() -> None:
    trusting = role("arn:aws:iam::111111111111:role/target",
                    allow({"AWS": "arn:aws:iam::222222222222:role/caller"}))

    session = Principal(arn="arn:aws:sts::222222222222:assumed-role/caller/s")
    other = Principal(arn="arn:aws:sts::222222222222:assumed-role/other/s")
    assert assume_refusal(trusting, trusting.arn, session) is None
    assert assume_refusal(trusting, trusting.arn, other) is not None


def test_a_role_trusting_only_eventbridge_refuses_accounts_and_other_services() -> None:
    forwarding = role("arn:aws:iam::111111111111:role/forward",
                      allow({"Service": "events.amazonaws.com"},
                            {"ArnEquals": {"aws:SourceArn": RULE}}))

    assert service_refusal(forwarding, forwarding.arn, "events.amazonaws.com",
                           source_arn=RULE, source_account="111111111111") is None
    assert service_refusal(forwarding, forwarding.arn, "events.amazonaws.com",
                           source_arn=RULE + "-other", source_account="111111111111")
    assert service_refusal(forwarding, forwarding.arn, "lambda.amazonaws.com",
                           source_arn=RULE, source_account="111111111111")
    assert assume_refusal(forwarding, forwarding.arn,
                          Principal(arn="arn:aws:iam::111111111111:root"))


def test_source_account_and_external_id_conditions_are_evaluated() -> None:
    execution = role("arn:aws:iam::333333333333:role/exec",
                     allow({"Service": "lambda.amazonaws.com"},
                           {"StringEquals": {"aws:SourceAccount": "333333333333"}}))
    vendor = role("arn:aws:iam::333333333333:role/vendor",
                  allow({"AWS": "arn:aws:iam::999999999999:root"},
                        {"StringEquals": {"sts:ExternalId": "s3cret"}}))
    nine = Principal(arn="arn:aws:iam::999999999999:root")

    assert service_refusal(execution, execution.arn, "lambda.amazonaws.com",
                           source_arn="arn:aws:lambda:eu-west-1:333333333333:function:f",
                           source_account="333333333333") is None
    assert service_refusal(execution, execution.arn, "lambda.amazonaws.com",
                           source_arn="arn:aws:lambda:eu-west-1:444444444444:function:f",
                           source_account="444444444444")
    assert assume_refusal(vendor, vendor.arn, nine, external_id="s3cret") is None
    assert assume_refusal(vendor, vendor.arn, nine, external_id="guess")
    assert assume_refusal(vendor, vendor.arn, nine)


def test_an_explicit_deny_wins_over_an_allow() -> None:
    guarded = role("arn:aws:iam::111111111111:role/r",
                   allow({"AWS": "arn:aws:iam::222222222222:root"}),
                   {"Effect": "Deny",
                    "Principal": {"AWS": "arn:aws:iam::222222222222:user/intern"},
                    "Action": "sts:AssumeRole"})
    ops = Principal(arn="arn:aws:iam::222222222222:user/ops")
    intern = Principal(arn="arn:aws:iam::222222222222:user/intern")

    assert assume_refusal(guarded, guarded.arn, ops) is None
    assert assume_refusal(guarded, guarded.arn, intern)


def test_only_the_unpathed_organization_role_is_made_on_demand() -> None:
    assert is_organization_role(MEMBER_ROLE)
    assert not is_organization_role(MEMBER_ROLE.replace("role/", "role/path/"))
    assert not is_organization_role(MEMBER_ROLE + "X")
