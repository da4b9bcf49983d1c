"""The local STS's decisions on AssumeRole, for callers over the wire (the gateway) and
for AWS services acting inside the local cloud (the Lambda runtime assuming a function's
execution role as ``lambda.amazonaws.com``).

The role must exist and its trust policy admit the caller (:mod:`localcloud.trust`);
a member account's ``OrganizationAccountAccessRole`` is created on first use, as every
account here is a member of the local organization whose management account is the
account of the plain local keys.

>>> from localcloud.moto_state import MotoState
>>> sts = LocalSts(MotoState())
>>> role = "arn:aws:iam::210987654321:role/OrganizationAccountAccessRole"
>>> sts.refusal(Principal(arn="arn:aws:iam::123456789012:root"), role) is None
True
>>> print(sts.refusal(Principal(arn="arn:aws:iam::123456789012:root"),
...                   "arn:aws:iam::210987654321:role/NoSuchRole"))
User: arn:aws:iam::123456789012:root is not authorized to perform: sts:AssumeRole on \
resource: arn:aws:iam::210987654321:role/NoSuchRole
"""

from __future__ import annotations

from localcloud import arns
from localcloud.errors import AwsApiError
from localcloud.policy import Principal, is_allowed_by_identity
from localcloud.state import CloudState, Credential
from localcloud.trust import (
    ADMINISTRATOR_POLICY,
    ADMINISTRATOR_POLICY_NAME,
    ASSUME_ROLE,
    assume_refusal,
    denied_message,
    is_organization_role,
    organization_role_trust,
    service_refusal,
)

# AssumeRole's default DurationSeconds (STS API Reference, AssumeRole).
DEFAULT_DURATION_S = 3600


class LocalSts:
    """AssumeRole's checks against the control plane, and sessions for AWS services."""

    def __init__(self, state: CloudState) -> None:
        self.state = state

    @property
    def management_account(self) -> str:
        return self.state.default_account

    def ensure_organization_role(self, role_arn: str) -> None:
        """Create a member account's OrganizationAccountAccessRole when first named."""
        if not is_organization_role(role_arn):
            return
        account = arns.account_of(role_arn)
        if account is None or account == self.management_account:
            return  # the management account itself has no such role
        self.state.create_role(role_arn, organization_role_trust(self.management_account),
                               {ADMINISTRATOR_POLICY_NAME: ADMINISTRATOR_POLICY})

    def refusal(self, caller: Principal, role_arn: str, *, external_id: str | None = None
                ) -> str | None:
        """Why ``caller`` may not assume ``role_arn`` (AWS's AccessDenied text), or None.

        Across accounts, a role session also needs its own role's identity policies to
        allow ``sts:AssumeRole`` on the target ("Cross-account policy evaluation logic").
        """
        self.ensure_organization_role(role_arn)
        refusal = assume_refusal(self.state.role(role_arn), role_arn, caller,
                                 external_id=external_id)
        session = arns.assumed_role(caller.arn)
        if refusal is not None or session is None or \
                session.account == arns.account_of(role_arn):
            return refusal
        own = self.state.role(session.role_arn)
        allowed = own is not None and is_allowed_by_identity(
            own.identity_policies, action=ASSUME_ROLE, resource=role_arn)
        return None if allowed else denied_message(str(caller.arn), role_arn)

    def assume_role_as_service(self, role_arn: str, service: str, *, source_arn: str,
                               source_account: str, session_name: str,
                               duration_s: int = DEFAULT_DURATION_S) -> Credential:
        """Temporary credentials of ``role_arn`` for AWS service ``service`` acting for the
        resource ``source_arn`` (for a Lambda function: ``lambda.amazonaws.com``, the
        function's ARN and account), or AwsApiError AccessDenied when the role's trust
        policy does not admit the service for that resource."""
        refusal = service_refusal(self.state.role(role_arn), role_arn, service,
                                  source_arn=source_arn, source_account=source_account)
        if refusal is not None:
            raise AwsApiError("AccessDenied", refusal, 403)
        return self.state.issue_session(role_arn, session_name, duration_s)
