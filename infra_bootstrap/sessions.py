"""One boto3 session per account, as topology.toml says how to reach it.

The standard ``AWS_ENDPOINT_URL`` (honoured by boto3 itself) points every client at
an emulator; nothing else differs between the local cloud and AWS.

>>> from infra_bootstrap.topology import load_stage
>>> sessions = AccountSessions(load_stage("local"))   # assumes each account's role
>>> buses = sessions.client("111111111111", "events").list_event_buses()["EventBuses"]
>>> [bus["Name"] for bus in buses]
['default']
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import botocore.exceptions
import botocore.loaders
import botocore.session
from botocore.config import Config

from infra_bootstrap.errors import AwsCallError, UsageError
from infra_bootstrap.topology import Stage
from localcloud.ports import DEFAULT_PORT as LOCAL_AWS_PORT  # light: no moto import

ROLE_SESSION_NAME = "infra-bootstrap"
# The local cloud's plain keys (secret = id) act in its management account, which every
# account's OrganizationAccountAccessRole trusts; real AWS never sees these.
LOCAL_BASE_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
# botocore's standard retry mode retries throttling with backoff before we see an error.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


_SHARED_LOADER = botocore.loaders.create_loader()


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 session that shares botocore's parsed service models with every other.

    Each botocore session otherwise re-reads the JSON models (about a second per
    account and CLI run); the loader only caches immutable model data.
    """
    core = botocore.session.get_session()
    core.register_component("data_loader", _SHARED_LOADER)
    return boto3.Session(botocore_session=core, **kwargs)


def endpoint_url() -> str | None:
    """The emulator endpoint, if one is configured (boto3 reads the same variable)."""
    return os.environ.get("AWS_ENDPOINT_URL") or None


def require_endpoint_for_local(stage: Stage) -> None:
    """Stage `local` only exists in the local cloud: refuse to aim it at real AWS."""
    if stage.is_local and endpoint_url() is None:
        raise UsageError(
            "stage local needs the local cloud: start it with `python -m infra_bootstrap "
            "local up` (it creates and subscribes everything itself), or point this command "
            f"at one already running with AWS_ENDPOINT_URL=http://127.0.0.1:{LOCAL_AWS_PORT}"
        )


class AccountSessions:
    """Lazily built, cached boto3 sessions and clients, one set per account."""

    def __init__(self, stage: Stage, base_session: boto3.Session | None = None) -> None:
        self.stage = stage
        self._base = base_session
        self._sessions: dict[str, boto3.Session] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    @property
    def base(self) -> boto3.Session:
        if self._base is None:
            kwargs: dict[str, Any] = {"region_name": self.stage.region}
            if self.stage.is_local and not _has_ambient_credentials():
                kwargs.update(LOCAL_BASE_CREDENTIALS)
            self._base = new_session(**kwargs)
        return self._base

    def session(self, account: str) -> boto3.Session:
        with self._lock:
            if account not in self._sessions:
                self._sessions[account] = self._open(account)
            return self._sessions[account]

    def client(self, account: str, service: str) -> Any:
        key = (account, service)
        with self._lock:
            cached = self._clients.get(key)
        if cached is not None:
            return cached
        client = self.session(account).client(
            service, region_name=self.stage.region, config=CLIENT_CONFIG)
        with self._lock:
            return self._clients.setdefault(key, client)

    def _open(self, account: str) -> boto3.Session:
        how = self.stage.credentials[account]
        if how.profile is not None:
            session = new_session(profile_name=how.profile, region_name=self.stage.region)
            self._check_account(session, account, f"profile {how.profile}")
            return session
        if how.role_arn is not None:
            sts = self.base.client("sts", region_name=self.stage.region, config=CLIENT_CONFIG)
            try:
                creds = sts.assume_role(RoleArn=how.role_arn,
                                        RoleSessionName=ROLE_SESSION_NAME)["Credentials"]
            except (botocore.exceptions.ClientError,
                    botocore.exceptions.BotoCoreError) as exc:
                raise AwsCallError(account, "sts:AssumeRole", how.role_arn,
                                   _one_line(exc)) from None
            return new_session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=self.stage.region,
            )
        self._check_account(self.base, account, "the base session")
        return self.base

    def _check_account(self, session: boto3.Session, account: str, label: str) -> None:
        try:
            actual = session.client("sts", region_name=self.stage.region,
                                    config=CLIENT_CONFIG).get_caller_identity()["Account"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise AwsCallError(account, "sts:GetCallerIdentity", label,
                               _one_line(exc)) from None
        if actual != account:
            raise UsageError(f"{label} reaches account {actual}, but topology.toml expects "
                             f"{account}: fix the profile or the account id")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _has_ambient_credentials() -> bool:
    return boto3.Session().get_credentials() is not None
