"""Reads and validates topology.toml into immutable dataclasses.

A bad file raises TopologyError with one line naming the problem, e.g.
``topology.toml: stages.prod.services[1].account: '1234' is not a 12-digit AWS account id``.

>>> stage = load_stage("local")
>>> stage.bus_account, [s.name for s in stage.services]
('111111111111', ['order-service', 'delivery-service'])
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra_bootstrap import names
from infra_bootstrap.errors import TopologyError

# The repository this package belongs to: its topology.toml, and the services' app folders.
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "topology.toml"
# The stage `local up` runs on this machine; a --config file without it gets the
# repository's.
LOCAL_STAGE = "local"
DEFAULT_ROLE_NAME = "OrganizationAccountAccessRole"

# Values CloudWatch Logs accepts for PutRetentionPolicy (retentionInDays).
# Source: CloudWatch Logs API reference, PutRetentionPolicy.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
     1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# Service names end up in bus, rule, role and queue names; the tightest limit is
# the 64-character IAM role name (names.forward_role_name adds 20 characters).
_SERVICE = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
# SNS topic names: 1-256 letters, digits, '-' or '_' (FIFO topics end in .fifo).
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_ENV_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Stage names end up in tags, policy statement ids (EventBridge StatementId: [a-zA-Z0-9-_],
# at most 64 characters, names.statement_sid adds up to 43) and Chalice function names.
_STAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")
# What the global bus forwards to each service's local bus: every other service's event
# (the seed's behaviour), or only the events the service's declared subscriptions need.
FORWARD_ALL = "all"
FORWARD_SUBSCRIBED = "subscribed"
FORWARDING_MODES = (FORWARD_ALL, FORWARD_SUBSCRIBED)


@dataclass(frozen=True)
class Credentials:
    """How to get a boto3 session for one account.

    Exactly one of: ``profile`` (a named profile), ``role_arn`` (assumed from the
    base session), or neither (the base session itself).
    """

    profile: str | None = None
    role_arn: str | None = None

    @property
    def is_base(self) -> bool:
        return self.profile is None and self.role_arn is None


@dataclass(frozen=True)
class Service:
    name: str
    account: str
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One deployment of the backbone: a bus account and its services."""

    name: str
    region: str
    bus_account: str
    services: tuple[Service, ...]
    credentials: Mapping[str, Credentials]
    organization_id: str | None = None
    log_retention_days: int = 14
    archive_retention_days: int = 30
    forwarding: str = FORWARD_ALL
    # The SNS topic every alarm of the stage notifies (AlarmActions and OKActions), or None.
    alarm_topic_arn: str | None = None

    @property
    def accounts(self) -> tuple[str, ...]:
        """Every account of the stage, bus account first, each once."""
        return tuple(dict.fromkeys([self.bus_account, *(s.account for s in self.services)]))

    @property
    def is_local(self) -> bool:
        return self.name == LOCAL_STAGE

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        known = ", ".join(s.name for s in self.services)
        raise TopologyError(f"stage {self.name}: no service named {name!r} (known: {known})")

    def services_in(self, account: str) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.account == account)


def load_stage(stage: str = LOCAL_STAGE, path: Path | str | None = None) -> Stage:
    """Load and validate one stage from a topology file (default: the repo's topology.toml).

    Stage ``local`` is the repository's own: a file of your own without a ``local`` stage
    (one holding only your AWS stages) still runs ``--stage local`` on the local cloud.
    """
    config_path = Path(path) if path is not None else DEFAULT_CONFIG
    stages = _read_stages(config_path)
    if stage not in stages:
        if stage == LOCAL_STAGE and config_path != DEFAULT_CONFIG:
            return load_stage(LOCAL_STAGE)
        known = ", ".join(sorted(stages)) or "none"
        raise TopologyError(f"{config_path.name}: no stage {stage!r} (stages defined: {known})")
    return parse_stage(stage, stages[stage], label=config_path.name)


def _read_stages(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise TopologyError(f"{path}: file not found")
    if path.is_dir():
        raise TopologyError(f"{path}: is a directory, not a topology file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TopologyError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise TopologyError(f"{path.name}: not UTF-8 (UTF-16?): TOML files are UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TopologyError(f"{path.name}: not UTF-8: byte 0x{data[exc.start]:02x} at "
                            f"offset {exc.start}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TopologyError(f"{path.name}: not valid TOML: {exc}") from None
    except RecursionError:
        raise TopologyError(f"{path.name}: nested too deeply to be a topology") from None
    _only_keys(document, {"stages"}, path.name)
    stages = document.get("stages", {})
    if not isinstance(stages, dict):
        raise TopologyError(f"{path.name}: 'stages' must be a table")
    return stages


def parse_stage(name: str, raw: Any, *, label: str = "topology.toml") -> Stage:
    """Validate one stage's raw TOML table. Pure: no file or network access."""
    where = f"{label}: stages.{name}"
    if not _STAGE.match(name):
        raise TopologyError(f"{where}: the stage name must be 1-20 letters, digits, '-' or "
                            "'_', starting with a letter or digit")
    if not isinstance(raw, dict):
        raise TopologyError(f"{where}: must be a table")
    _only_keys(raw, {"region", "bus_account", "organization_id", "log_retention_days",
                     "archive_retention_days", "credentials", "accounts", "services",
                     "forwarding", "alarm_topic_arn"}, where)
    for key in ("region", "bus_account", "services"):
        if key not in raw:
            raise TopologyError(f"{where}: missing required key {key!r}")

    region = raw["region"]
    if not isinstance(region, str) or not _REGION.match(region):
        raise TopologyError(f"{where}.region: {region!r} is not an AWS region name")
    bus_account = _account(raw["bus_account"], f"{where}.bus_account")

    org_id = raw.get("organization_id")
    if org_id is not None and (not isinstance(org_id, str) or not _ORG_ID.match(org_id)):
        raise TopologyError(f"{where}.organization_id: {org_id!r} is not an Organizations id "
                            "(o- followed by 10 to 32 lowercase letters or digits)")

    log_days = raw.get("log_retention_days", 14)
    if type(log_days) is not int or log_days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in sorted(LOG_RETENTION_DAYS))
        raise TopologyError(f"{where}.log_retention_days: {log_days!r} is not one of {allowed}")
    archive_days = raw.get("archive_retention_days", 30)
    if type(archive_days) is not int or archive_days < 0:
        raise TopologyError(f"{where}.archive_retention_days: {archive_days!r} must be a "
                            "whole number of days, 0 for indefinitely")

    forwarding = raw.get("forwarding", FORWARD_ALL)
    if forwarding not in FORWARDING_MODES:
        raise TopologyError(f"{where}.forwarding: {forwarding!r} must be \"all\" or "
                            "\"subscribed\"")

    alarm_topic = _alarm_topic(raw.get("alarm_topic_arn"), region, f"{where}.alarm_topic_arn")
    services = _services(raw["services"], where)
    default = _credentials(raw.get("credentials", {}), f"{where}.credentials", allow_role_name=True)
    accounts = tuple(dict.fromkeys([bus_account, *(s.account for s in services)]))
    overrides = raw.get("accounts", {})
    if not isinstance(overrides, dict):
        raise TopologyError(f"{where}.accounts: must be a table keyed by account id")
    for account in overrides:
        if account not in accounts:
            raise TopologyError(f"{where}.accounts.{account}: not an account of this stage "
                                f"(accounts: {', '.join(accounts)})")
    credentials: dict[str, Credentials] = {}
    for account in accounts:
        if account in overrides:
            credentials[account] = _credentials(
                overrides[account], f"{where}.accounts.{account}", allow_role_name=False)
        else:
            credentials[account] = default(account) if callable(default) else default
        role_arn = credentials[account].role_arn
        if role_arn is not None and names.parse_arn(role_arn).account != account:
            raise TopologyError(f"{where}.accounts.{account}.role_arn: {role_arn} is a role "
                                "in another account")

    return Stage(name=name, region=region, bus_account=bus_account, services=services,
                 credentials=credentials, organization_id=org_id,
                 log_retention_days=log_days, archive_retention_days=archive_days,
                 forwarding=forwarding, alarm_topic_arn=alarm_topic)


def _alarm_topic(value: Any, region: str, where: str) -> str | None:
    """The stage's alarm topic: an SNS topic ARN in the stage's region, any account.

    Same region: CloudWatch refuses an alarm action in another region ("Invalid region
    ca-central-1 specified. Only us-west-2 is supported", cds-snc/notification-terraform
    PR #128). Another account is allowed when the topic's policy lets
    cloudwatch.amazonaws.com publish (SNS Developer Guide, "Example cases for Amazon SNS
    access control": allow CloudWatch alarms to publish to a topic in another account).

    >>> _alarm_topic("arn:aws:sns:eu-west-1:444444444444:alarms", "eu-west-1", "x")
    'arn:aws:sns:eu-west-1:444444444444:alarms'
    """
    if value is None:
        return None
    topic = names.sns_topic_of(value) if isinstance(value, str) else None
    if topic is None or not _ACCOUNT.match(topic[1]) or not _TOPIC.match(topic[2]):
        raise TopologyError(f"{where}: {value!r} is not an SNS topic ARN "
                            "(arn:aws:sns:<region>:<account>:<topic>)")
    if topic[0] != region:
        raise TopologyError(f"{where}: the topic is in {topic[0]}, but CloudWatch alarms of "
                            f"this stage (region {region}) can only notify a topic in {region}")
    return value


def _services(raw: Any, where: str) -> tuple[Service, ...]:
    if not isinstance(raw, list) or not raw:
        raise TopologyError(f"{where}.services: must be a non-empty array of tables "
                            "([[stages.<stage>.services]])")
    services: list[Service] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        at = f"{where}.services[{index}]"
        if not isinstance(item, dict):
            raise TopologyError(f"{at}: must be a table with name and account")
        _only_keys(item, {"name", "account", "environment"}, at)
        if "name" not in item:
            raise TopologyError(f"{at}: missing required key 'name'")
        if "account" not in item:
            raise TopologyError(f"{at}: missing required key 'account'")
        name = item["name"]
        if not isinstance(name, str) or not _SERVICE.match(name):
            raise TopologyError(f"{at}.name: {name!r} must be 2-40 lowercase letters, digits "
                                "or hyphens, starting with a letter")
        if name in seen:
            raise TopologyError(f"{at}.name: duplicate service {name!r}")
        seen.add(name)
        environment = item.get("environment", {})
        if not isinstance(environment, dict) or not all(
            isinstance(k, str) and _ENV_KEY.match(k) and isinstance(v, str)
            for k, v in environment.items()
        ):
            raise TopologyError(f"{at}.environment: must map variable names to string values")
        services.append(Service(name=name, account=_account(item["account"], f"{at}.account"),
                                environment=dict(environment)))
    return tuple(services)


def _credentials(raw: Any, where: str, *, allow_role_name: bool) -> Any:
    """A Credentials, or (for a stage default with role_name) a function of the account."""
    if not isinstance(raw, dict):
        raise TopologyError(f"{where}: must be a table")
    allowed = {"profile", "role_arn", "base"} | ({"role_name"} if allow_role_name else set())
    _only_keys(raw, allowed, where)
    if len(raw) > 1:
        raise TopologyError(f"{where}: give only one of {', '.join(sorted(allowed))}")
    if not raw or raw.get("base") is True:
        return Credentials()
    if "base" in raw:
        raise TopologyError(f"{where}.base: must be true (or leave it out)")
    if "profile" in raw:
        if not isinstance(raw["profile"], str) or not raw["profile"]:
            raise TopologyError(f"{where}.profile: must be a profile name")
        return Credentials(profile=raw["profile"])
    if "role_arn" in raw:
        arn = raw["role_arn"]
        if not isinstance(arn, str) or not _ROLE_ARN.match(arn):
            raise TopologyError(f"{where}.role_arn: {arn!r} is not an IAM role ARN")
        return Credentials(role_arn=arn)
    role_name = raw["role_name"]
    if not isinstance(role_name, str) or not re.match(r"^[\w+=,.@-]{1,64}$", role_name):
        raise TopologyError(f"{where}.role_name: {role_name!r} is not an IAM role name")
    return lambda account: Credentials(role_arn=names.role_arn(account, role_name))


def _account(value: Any, where: str) -> str:
    if isinstance(value, int):
        raise TopologyError(f"{where}: write the account id as a quoted string "
                            f"(\"{value:012d}\"), an integer loses leading zeros")
    if not isinstance(value, str) or not _ACCOUNT.match(value):
        raise TopologyError(f"{where}: {value!r} is not a 12-digit AWS account id")
    return value


def _only_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise TopologyError(f"{where}: unknown key {key!r} (expected one of "
                                f"{', '.join(sorted(allowed))})")
