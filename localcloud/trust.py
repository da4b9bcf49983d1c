"""STS AssumeRole's checks, as AWS makes them: the role exists and its trust policy admits
the caller. Pure: the role comes from the control plane (:class:`~localcloud.state.Role`).

The caller is an AWS principal (an account's root, an IAM user, an assumed-role session)
or an AWS service assuming a role for a resource (EventBridge for a rule's bus target,
Lambda for a function's execution role). The trust policy is evaluated by
:mod:`localcloud.policy` for ``sts:AssumeRole`` on the role, with the request context STS
gives it: ``sts:ExternalId`` when the caller passed one; ``aws:SourceArn`` and
``aws:SourceAccount`` (the resource the service acts for) for a service caller; the
caller's ``aws:PrincipalAccount`` / ``aws:PrincipalArn`` (IAM User Guide, "Policy
evaluation for requests within a single account" and "Cross-account policy evaluation
logic"; "AWS global condition context keys"; "How to use an external ID"; Lambda
Developer Guide, "Lambda execution role"; EventBridge User Guide, "Permissions for event
buses" (IAM roles for bus targets)).

Every account the local cloud serves is a member of the local organization, so each has
``OrganizationAccountAccessRole``, trusting the management account and allowed to do
anything (AWS Organizations User Guide, "Accessing a member account that has a
management account access role").

>>> role = Role("arn:aws:iam::111111111111:role/OrganizationAccountAccessRole",
...             organization_role_trust("123456789012"), ())
>>> root = Principal(arn="arn:aws:iam::123456789012:root")
>>> assume_refusal(role, role.arn, root) is None
True
>>> print(assume_refusal(role, role.arn, Principal(
...     arn="arn:aws:sts::222222222222:assumed-role/OrganizationAccountAccessRole/me")))
User: arn:aws:sts::222222222222:assumed-role/OrganizationAccountAccessRole/me is not \
authorized to perform: sts:AssumeRole on resource: \
arn:aws:iam::111111111111:role/OrganizationAccountAccessRole
"""

from __future__ import annotations

import json

from localcloud import arns
from localcloud.permissions import decide
from localcloud.policy import Decision, Principal
from localcloud.state import Role

ORGANIZATION_ROLE = "OrganizationAccountAccessRole"
ASSUME_ROLE = "sts:AssumeRole"
# The inline policy AWS Organizations gives the role it creates in a new member account.
ADMINISTRATOR_POLICY_NAME = "AdministratorAccess"
ADMINISTRATOR_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def organization_role_trust(management_account: str) -> str:
    """The trust policy of a member account's OrganizationAccountAccessRole: the
    management account (any principal of it its own policies let assume the role)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": arns.account_root(management_account)},
        "Action": ASSUME_ROLE}]})


def is_organization_role(role_arn: str) -> bool:
    """Does the ARN name a member account's OrganizationAccountAccessRole (no path)?

    >>> is_organization_role("arn:aws:iam::111111111111:role/OrganizationAccountAccessRole")
    True
    >>> is_organization_role("arn:aws:iam::111111111111:role/Admin")
    False
    """
    parts = arns.role_parts(role_arn)
    return parts is not None and role_arn.endswith(f":role/{ORGANIZATION_ROLE}")


def denied_message(caller_arn: str, role_arn: str) -> str:
    """AWS's AccessDenied text for a refused AssumeRole (also when the role is missing)."""
    return (f"User: {caller_arn} is not authorized to perform: {ASSUME_ROLE} on resource: "
            f"{role_arn}")


def assume_refusal(role: Role | None, role_arn: str, caller: Principal, *,
                   external_id: str | None = None, source_arn: str | None = None,
                   source_account: str | None = None) -> str | None:
    """Why ``caller`` may not assume ``role_arn`` (AWS's AccessDenied message), or None.

    ``role`` is None when it does not exist: AWS answers the same AccessDenied, so a
    caller learns nothing of another account's roles.
    """
    who = caller.arn or caller.service or arns.account_root(caller.account or "")
    if role is None:
        return denied_message(who, role_arn)
    context: dict[str, str] = {}
    if external_id is not None:
        context["sts:ExternalId"] = external_id
    if source_arn is not None:
        context["aws:SourceArn"] = source_arn
    if source_account is not None:
        context["aws:SourceAccount"] = source_account
    decision = decide(role.trust_policy, principal=caller, action=ASSUME_ROLE,
                      resource=role.arn, context=context)
    return None if decision is Decision.ALLOW else denied_message(who, role_arn)


def service_refusal(role: Role | None, role_arn: str, service: str, *,
                    source_arn: str | None, source_account: str | None) -> str | None:
    """Why AWS service ``service`` (``events.amazonaws.com``, ``lambda.amazonaws.com``) may
    not assume the role for the resource ``source_arn`` of ``source_account``, or None.

    >>> trust = json.dumps({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
    ...     "Principal": {"Service": "events.amazonaws.com"}}]})
    >>> role = Role("arn:aws:iam::1:role/forward", trust, ())
    >>> service_refusal(role, role.arn, "events.amazonaws.com", source_arn=None,
    ...                 source_account=None) is None
    True
    >>> print(service_refusal(role, role.arn, "lambda.amazonaws.com", source_arn=None,
    ...                       source_account=None))
    User: lambda.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: \
arn:aws:iam::1:role/forward
    """
    return assume_refusal(role, role_arn, Principal(service=service), source_arn=source_arn,
                          source_account=source_account)
