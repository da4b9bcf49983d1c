"""Who signed a request: its account and principal come from its verified access key only.

Three kinds of credentials are known to the local cloud:

- **plain local keys**, any access key id that AWS could not have issued (not
  ``AKIA``/``ASIA`` + 16 characters) whose secret is the id itself, such as
  ``local``/``local``, ``test``/``test`` or ``testing``/``testing``: they act in the local
  management account (moto's default account, ``123456789012``) as its root user, the
  account that every other account's ``OrganizationAccountAccessRole`` trusts;
- **IAM users' access keys** made with CreateAccessKey: the user's account;
- **temporary credentials** from the local STS (AssumeRole): the role's account, as the
  session ``arn:aws:sts::<account>:assumed-role/<role>/<session>``, with their session
  token required.

Any other key is unknown. No header chooses the account (moto's ``x-moto-account-id`` is
removed from every request by the gateway).

>>> plain_credential("local", "123456789012").principal_arn
'arn:aws:iam::123456789012:root'
>>> plain_credential("AKIAIOSFODNN7EXAMPLE", "123456789012") is None   # shaped like AWS's
True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from localcloud import arns
from localcloud.cache import BoundedCache
from localcloud.sigv4 import AuthFailure, Failure, WireRequest, check_time, parse, verify
from localcloud.state import CloudState, Credential

# API Gateway's invoke URLs are public (the API's own authorization, none here, applies):
# the local form http://127.0.0.1:<port>/restapis/<id>/<stage>/_user_request_/<path>.
# Access key ids as AWS issues them: AKIA (long-term) or ASIA (temporary) + 16 characters
# (IAM User Guide, "IAM identifiers", unique ID prefixes).
_AWS_KEY = re.compile(r"(AKIA|ASIA)[A-Z0-9]{16}")


@dataclass(frozen=True)
class Identity:
    """The verified signer of a request: account, principal ARN, and the scope it signed
    for (region and service)."""

    account: str
    principal_arn: str
    access_key: str
    region: str
    service: str


def plain_credential(access_key: str, management_account: str) -> Credential | None:
    """The plain local credential of ``access_key`` (its secret is its own id), or None
    for a key shaped like one AWS issues."""
    if not access_key or _AWS_KEY.fullmatch(access_key):
        return None
    return Credential(access_key, access_key, management_account,
                      arns.account_root(management_account), None)


class Authenticator:
    """Verifies requests against the credentials the local cloud knows (sessions and plain
    keys memoized by key)."""

    def __init__(self, state: CloudState, *, cache_size: int = 4096,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.state = state
        self._clock = clock
        self._credentials = BoundedCache(cache_size)

    def authenticate(self, request: WireRequest) -> Identity:
        """The request's verified identity, or AuthFailure saying why not."""
        signed = parse(request)
        check_time(signed, self._clock())
        credential = self.credential(signed.access_key)
        if credential is None:
            raise AuthFailure(Failure.UNKNOWN_KEY, signed.access_key)
        if signed.security_token != credential.session_token:
            raise AuthFailure(Failure.BAD_TOKEN, signed.access_key)
        if not verify(signed, credential.secret):
            raise AuthFailure(Failure.BAD_SIGNATURE, signed.access_key)
        return Identity(credential.account, credential.principal_arn, signed.access_key,
                        signed.region, signed.service)

    def credential(self, access_key: str) -> Credential | None:
        """The credential of an access key: issued by the local IAM or STS, else plain."""
        cached = self._credentials.get(access_key)
        if cached is not None:
            return cached
        issued = self.state.credential(access_key)
        if issued is not None:
            # A session's secret and token never change; a user's key can be made inactive
            # or deleted at any time, so it is looked up again on every request.
            if issued.session_token is not None:
                self._credentials[access_key] = issued
            return issued
        plain = plain_credential(access_key, self.state.default_account)
        if plain is not None:
            self._credentials[access_key] = plain
        return plain

    def forget(self) -> None:
        """Forget every memoized credential (after moto's state was reset)."""
        self._credentials.clear()
