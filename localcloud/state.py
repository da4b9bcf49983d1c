"""What the data plane reads and writes of the control plane, as one interface.

The data plane never touches a backend directly: it asks a :class:`CloudState` for plain
views (a rule, a role, a queue, a function) and hands it the writes (a log event, an SQS
message, an archived event). :mod:`localcloud.moto_state` serves it from moto's
in-process backends; a test can serve it from dicts, and a faster queue store or a state
kept on disk can take moto's place behind the same methods.

>>> rule = Rule("r", "arn:aws:events:eu-west-1:1:rule/b/r", "1", "ENABLED", None, ())
>>> rule.pattern is None          # a schedule rule: it matches no event
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from localcloud.apigateway.definition import ApiDocument
from localcloud.apigateway.routing import Route
from localcloud.arns import Arn, BusRef


@dataclass(frozen=True)
class Rule:
    """A rule of a bus: its state, its pattern text (None for a schedule rule) and its
    targets (PutTargets' shapes, copied)."""

    name: str
    arn: str
    account: str
    state: str
    pattern: str | None
    targets: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Role:
    """An IAM role: its trust policy and its identity policies (inline and the default
    versions of attached managed policies)."""

    arn: str
    trust_policy: str | None
    identity_policies: tuple[str, ...]


@dataclass(frozen=True)
class Credential:
    """An access key the local cloud knows: its secret, the account and principal it acts
    as, and the session token temporary credentials must present (None for long-term
    keys)."""

    access_key: str
    secret: str
    account: str
    principal_arn: str
    session_token: str | None


@dataclass(frozen=True)
class Queue:
    name: str
    policy: str | None


@dataclass(frozen=True)
class Function:
    """A Lambda function version: its ARN, timeout, resource policy and asynchronous
    invocation configuration (PutFunctionEventInvokeConfig's shape, or None)."""

    arn: str
    timeout_s: float
    policy: str | None
    async_config: Mapping[str, Any] | None


@dataclass(frozen=True)
class ArchiveRef:
    region: str
    account: str
    name: str
    uuid: str


@dataclass(frozen=True)
class RestApi:
    """A REST API as its stage URLs serve it: where it lives, its deployed stages, its
    methods with their integrations, and its binary media types."""

    account: str
    region: str
    api_id: str
    stages: frozenset[str]
    routes: tuple[Route, ...]
    binary_media_types: tuple[str, ...]


class CloudState(Protocol):
    """The control plane, as the data plane sees it."""

    # -- identities ---------------------------------------------------------------------

    default_account: str

    def credential(self, access_key: str) -> Credential | None:
        """An access key issued by the local IAM (a user's) or STS (a role session's), or
        None."""

    def issue_session(self, role_arn: str, session_name: str, duration_s: int
                      ) -> Credential:
        """New temporary credentials of a role (STS AssumeRole's, checks already made)."""

    def create_role(self, role_arn: str, trust_policy: str,
                    inline_policies: Mapping[str, str]) -> bool:
        """Create a role (no path) with its inline policies; False if it already exists."""

    def organization_id(self, account: str) -> str | None:
        """The AWS Organizations id of an account, if it is a member."""

    def role(self, role_arn: str) -> Role | None:
        """An IAM role by ARN, or None."""

    # -- EventBridge --------------------------------------------------------------------

    def bus_exists(self, bus: BusRef) -> bool: ...

    def bus_policy(self, bus: BusRef) -> str | None:
        """The bus's resource policy JSON, or None."""

    def rules(self, bus: BusRef) -> list[Rule]:
        """The bus's rules, in creation order; a rule that cannot be read is left out."""

    def archive_of(self, target: Mapping[str, Any]) -> ArchiveRef | None:
        """The archive an archive rule's target writes to, or None for other targets."""

    def archive_event(self, archive: ArchiveRef, envelope: Mapping[str, Any]) -> bool:
        """Keep an event in an archive; False when the archive is gone."""

    # -- CloudWatch Logs ------------------------------------------------------------------

    def log_group_exists(self, region: str, account: str, group: str) -> bool: ...

    def logs_resource_policies(self, region: str, account: str) -> tuple[str, ...]: ...

    def append_log_event(self, region: str, account: str, group: str, stream: str,
                         message: str) -> None:
        """Append one log event (timestamp: now), creating the stream if needed."""

    # -- SQS ------------------------------------------------------------------------------

    def queue(self, arn: Arn) -> Queue | None: ...

    def send_message(self, arn: Arn, body: str, *, attributes: Mapping[str, str],
                     group_id: str | None, deduplication_id: str | None) -> None: ...

    # -- Lambda ---------------------------------------------------------------------------

    def function(self, arn: Arn) -> Function | None:
        """The function (version or alias) a Lambda ARN names, or None."""

    # -- API Gateway ----------------------------------------------------------------------

    def rest_api(self, api_id: str) -> RestApi | None:
        """The REST API of that id, in whichever account and region holds it."""

    def import_rest_api(self, account: str, region: str, document: ApiDocument,
                        endpoint_types: list[str]) -> dict[str, Any]:
        """Create a REST API from a definition; its RestApi JSON (AwsApiError if refused)."""

    def put_rest_api(self, account: str, region: str, api_id: str, document: ApiDocument,
                     mode: str) -> dict[str, Any]:
        """Overwrite or merge an API's definition; its RestApi JSON (AwsApiError if refused:
        NotFoundException for an unknown API)."""
