"""Each service's Chalice configuration, generated from topology.toml.

Pure functions turn a (Stage, Service) into the stage section of the service's
``.chalice/config.json`` and into the least-privilege IAM policy of its Lambda
functions; a small writer merges them into the app directory. Chalice's config
file reference: https://aws.github.io/chalice/topics/configfile

>>> from infra_bootstrap.topology import load_stage
>>> stage = load_stage("local")
>>> config = chalice_stage_config(stage, stage.service("delivery-service"))
>>> config["environment_variables"]["DELIVERY_DELAY_SECONDS"], config["lambda_timeout"]
('5', 65)
>>> config["autogen_policy"], config["iam_policy_file"]
(False, 'policy-local.json')

Lambda runtime: Chalice has no setting for it; it picks the Python version of the
interpreter that runs ``chalice`` (``chalice.config.Config.lambda_python_version``).
The pinned .venv is Python 3.11, so functions run on ``python3.11``, the same Python
the tests use (Lambda's runtime table lists python3.11 until its deprecation on
2027-06-30). Moving to python3.13 means rebuilding .venv on Python 3.13; no config key.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backbone import settings
from infra_bootstrap import names
from infra_bootstrap.desired import policy_document
from infra_bootstrap.errors import TopologyError, UsageError
from infra_bootstrap.service_apps import service_dir
from infra_bootstrap.topology import Service, Stage

CHALICE_CONFIG_VERSION = "2.0"
# Chalice's default API Gateway stage: the API answers under https://.../api/.
API_GATEWAY_STAGE = "api"
DELAY_VARIABLE = settings.DELIVERY_DELAY_SECONDS
# Time an event handler needs besides any configured delay: a few AWS calls, each bounded
# by backbone.aws (3 s connect + 10 s read, 3 attempts), plus the publisher's backoff.
WORK_SECONDS = 60
# The function serving the routes stops at API Gateway's 29 s integration timeout, after
# which the client has a 504 anyway (API Gateway Developer Guide, "Amazon API Gateway
# quotas"). Chalice configures it under the function name `api_handler`.
API_HANDLER = "api_handler"
API_TIMEOUT_SECONDS = 29
# Lambda's maximum function timeout (Lambda Developer Guide, "Lambda quotas").
LAMBDA_MAX_TIMEOUT_SECONDS = 900

# Defaults a service gets unless its topology `environment` overrides them.
SERVICE_DEFAULTS: dict[str, dict[str, str]] = {
    # the original's simulated 5 s of work, as the service itself defaults to it
    "delivery-service": {DELAY_VARIABLE: f"{settings.DEFAULT_DELIVERY_DELAY_SECONDS:g}"},
}
# Derived from the topology; a service's `environment` may not set them.
RESERVED_VARIABLES = frozenset({settings.GLOBAL_BUS_ARN, settings.SERVICE_NAME,
                                settings.TABLE_NAME, settings.POWERTOOLS_SERVICE_NAME})

# The DynamoDB item actions backbone.store uses (get, conditional put/update, delete).
# Add one here when a service needs it: Query, or ConditionCheckItem for transactions
# (TransactWriteItems is authorized per item as PutItem, UpdateItem, DeleteItem and
# ConditionCheckItem; DynamoDB Developer Guide, "Using IAM with DynamoDB transactions").
DYNAMODB_ITEM_ACTIONS = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)


@dataclass(frozen=True)
class ServiceConfig:
    """What `configure` writes for one service: its stage config and IAM policy."""

    service: str
    app_dir: str
    stage_config: dict[str, Any]
    policy: dict[str, Any]


def service_environment(stage: Stage, service: Service) -> dict[str, str]:
    """The Lambda environment variables of a service in a stage.

    >>> from infra_bootstrap.topology import load_stage
    >>> stage = load_stage("local")
    >>> service_environment(stage, stage.service("order-service"))["TABLE_NAME"]
    'order-service-state'
    """
    clash = sorted(RESERVED_VARIABLES & set(service.environment))
    if clash:
        raise TopologyError(
            f"stage {stage.name}: service {service.name}: environment may not set "
            f"{', '.join(clash)} (configure derives it from the topology)")
    return {
        settings.GLOBAL_BUS_ARN: names.global_bus_arn(stage.region, stage.bus_account),
        settings.SERVICE_NAME: service.name,
        settings.TABLE_NAME: names.service_table(service.name),
        settings.LOG_LEVEL: settings.DEFAULT_LOG_LEVEL,
        settings.POWERTOOLS_SERVICE_NAME: service.name,
        settings.POWERTOOLS_METRICS_NAMESPACE: settings.DEFAULT_METRICS_NAMESPACE,
        **SERVICE_DEFAULTS.get(service.name, {}),
        **service.environment,
    }


def lambda_timeout(stage: Stage, service: Service) -> int:
    """Seconds a service's event handlers may run: its configured delay plus WORK_SECONDS.

    >>> from infra_bootstrap.topology import load_stage
    >>> stage = load_stage("local")
    >>> lambda_timeout(stage, stage.service("order-service"))
    60
    """
    raw = service_environment(stage, service).get(DELAY_VARIABLE)
    if raw is None:
        return WORK_SECONDS
    where = f"stage {stage.name}: service {service.name}: {DELAY_VARIABLE}"
    try:
        delay = float(raw)
    except ValueError:
        raise TopologyError(f"{where}: {raw!r} is not a number of seconds") from None
    if not math.isfinite(delay) or delay < 0:
        raise TopologyError(f"{where}: {raw!r} must be a non-negative number of seconds")
    timeout = math.ceil(delay) + WORK_SECONDS
    if timeout > LAMBDA_MAX_TIMEOUT_SECONDS:
        raise TopologyError(
            f"{where}: {raw} s plus {WORK_SECONDS} s of work exceeds Lambda's "
            f"{LAMBDA_MAX_TIMEOUT_SECONDS} s maximum timeout")
    return timeout


def chalice_stage_config(stage: Stage, service: Service) -> dict[str, Any]:
    """The ``stages.<stage>`` section of the service's ``.chalice/config.json``."""
    return {
        "api_gateway_stage": API_GATEWAY_STAGE,
        "environment_variables": service_environment(stage, service),
        "autogen_policy": False,
        "iam_policy_file": names.chalice_policy_file(stage.name),
        "lambda_timeout": lambda_timeout(stage, service),
        # Used only by an app that has routes.
        "lambda_functions": {API_HANDLER: {"lambda_timeout": API_TIMEOUT_SECONDS}},
        # No `log_retention_in_days`: with it, `chalice package` emits a log group whose
        # Fn::Sub names `ApiHandler` while the function is `APIHandler`, an invalid
        # template (open upstream: https://github.com/aws/chalice/issues/2079).
        "tags": names.tags(stage.name),
    }


def iam_policy(stage: Stage, service: Service) -> dict[str, Any]:
    """The least-privilege policy of the service's Lambda execution role.

    >>> from infra_bootstrap.topology import load_stage
    >>> stage = load_stage("local")
    >>> policy = iam_policy(stage, stage.service("order-service"))
    >>> [s["Sid"] for s in policy["Statement"]]
    ['PublishToGlobalBus', 'OwnTable', 'CreateOwnLogGroups', 'WriteOwnLogs', 'OnFailureToOwnDlq']
    """
    region, account = stage.region, service.account
    # The route handler is `<app>-<stage>`, every other function `<app>-<stage>-<name>`.
    log_groups = [names.lambda_log_group(names.api_handler_function_name(service.name, stage.name)),
                  names.lambda_log_group(names.lambda_function_name(service.name, stage.name, "*"))]
    return policy_document(
        {
            # Cross-account PutEvents needs both this identity policy and the
            # global bus's resource policy (EventBridge User Guide, "Sending and
            # receiving events between AWS accounts").
            "Sid": "PublishToGlobalBus",
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": [names.global_bus_arn(region, stage.bus_account)],
        },
        {
            "Sid": "OwnTable",
            "Effect": "Allow",
            "Action": list(DYNAMODB_ITEM_ACTIONS),
            "Resource": [names.table_arn(region, account, names.service_table(service.name))],
        },
        {
            # Lambda creates a function's log group on its first invocation.
            "Sid": "CreateOwnLogGroups",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup"],
            "Resource": [names.log_group_arn(region, account, group) for group in log_groups],
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [names.log_streams_arn(region, account, group) for group in log_groups],
        },
        {
            # Lambda sends a failed asynchronous invocation to its on-failure
            # destination with the function's execution role (Lambda Developer
            # Guide, "Capturing records of Lambda asynchronous invocations":
            # an SQS destination needs sqs:SendMessage on the execution role).
            "Sid": "OnFailureToOwnDlq",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [names.service_dlq_arn(region, account, service.name)],
        },
    )


def service_config(stage: Stage, service: Service) -> ServiceConfig:
    """Everything `configure` writes for one service, as plain data."""
    return ServiceConfig(
        service=service.name,
        app_dir=names.service_app_dir(service.name),
        stage_config=chalice_stage_config(stage, service),
        policy=iam_policy(stage, service),
    )


def merge_chalice_config(existing: dict[str, Any] | None, app_name: str, stage_name: str,
                         stage_config: dict[str, Any]) -> dict[str, Any]:
    """``existing`` with one stage replaced; other stages and top-level keys are kept.

    >>> merged = merge_chalice_config({"app_name": "x", "stages": {"dev": {}}}, "x", "prod", {})
    >>> merged["version"], sorted(merged["stages"])
    ('2.0', ['dev', 'prod'])
    """
    merged = dict(existing or {})
    if merged.get("app_name", app_name) != app_name:
        raise UsageError(f"app_name is {merged['app_name']!r} but the service is {app_name!r}: "
                         "resource names and subscriptions assume they are equal")
    merged["version"] = CHALICE_CONFIG_VERSION
    merged["app_name"] = app_name
    stages = merged.get("stages") or {}
    if not isinstance(stages, dict):
        raise UsageError("'stages' must be a JSON object")
    merged["stages"] = {**stages, stage_name: stage_config}
    return merged


def render_json(document: Any) -> str:
    """The committed JSON layout: two-space indent, trailing newline."""
    return json.dumps(document, indent=2) + "\n"


def write_service_config(stage: Stage, service: Service,
                         root: Path | None = None) -> list[Path]:
    """Write one service's config.json stage and policy file; return the files changed.

    ``root`` holds the app directories (default: this repository).
    """
    config = service_config(stage, service)
    app_dir = service_dir(service.name, root)
    if not app_dir.is_dir():
        raise UsageError(f"service {service.name}: no Chalice app directory {app_dir}")
    chalice_dir = app_dir / ".chalice"
    config_path = chalice_dir / "config.json"
    existing: dict[str, Any] | None = None
    if config_path.exists():
        try:
            existing = json.loads(config_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UsageError(f"{config_path}: not valid JSON: {exc}") from None
        if not isinstance(existing, dict):
            raise UsageError(f"{config_path}: must be a JSON object")
    try:
        merged = merge_chalice_config(existing, service.name, stage.name, config.stage_config)
    except UsageError as exc:
        raise UsageError(f"{config_path}: {exc}") from None
    policy_path = chalice_dir / config.stage_config["iam_policy_file"]
    changed = []
    for path, text in ((config_path, render_json(merged)),
                       (policy_path, render_json(config.policy))):
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            chalice_dir.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def write_service_configs(stage: Stage, root: Path | None = None) -> list[Path]:
    """Configure every service of the stage; return the files that changed.

    >>> import tempfile
    >>> from infra_bootstrap.topology import load_stage
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     root = Path(folder)
    ...     for app_dir in ("order_service", "delivery_service"):
    ...         (root / app_dir).mkdir()
    ...     first = write_service_configs(load_stage("local"), root)
    ...     second = write_service_configs(load_stage("local"), root)
    >>> [str(path.relative_to(root)) for path in first]
    ['order_service/.chalice/config.json', 'order_service/.chalice/policy-local.json', \
'delivery_service/.chalice/config.json', 'delivery_service/.chalice/policy-local.json']
    >>> second                                                    # a second run: unchanged
    []
    """
    changed: list[Path] = []
    for service in stage.services:
        changed.extend(write_service_config(stage, service, root))
    return changed
