"""The local stand-in for ``chalice deploy``: each service's functions in the Lambda control plane.

On AWS, ``chalice deploy`` creates an execution role and one Lambda function per
``@app.lambda_function``; ``subscribe`` then adds the EventBridge permission and the
async-invoke configuration to those functions. Locally the same happens against the
endpoint: each function is created with the service's deployment package (the zip
``chalice package`` would build: ``app.py``, ``chalicelib/``, ``vendor/``'s contents) and
the local cloud's Lambda runtime runs it from that zip, as the execution role.

>>> from infra_bootstrap.topology import load_stage
>>> order = load_service(load_stage("local"), "order-service")
>>> [function.arn for function in order.functions]
['arn:aws:lambda:eu-west-1:222222222222:function:order-service-local-on_delivery_updated']

Deploying needs a running endpoint (``local up`` does it, or ``scripts/deploy``)::

    deploy(stage, AccountSessions(stage), [order])
    # {'order-service': {'on_delivery_updated': 'arn:aws:lambda:...:function:...'}}

``load_service`` is the one place that turns a service into its app, Chalice config and
functions; ``local up`` calls it once per service, deploys from it and hands the API
worker a spec built from it (``worker_spec``).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
from chalice.config import Config

from backbone.tracing import EXPORTER, TRACES_FILE
from infra_bootstrap import configure, names
from infra_bootstrap.errors import AwsCallError
from infra_bootstrap.local.handoff import ApiSpec, WorkerSpec
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import Stage

# Trust policy of a Chalice-created execution role.
# Source: AWS Lambda Developer Guide, "Lambda execution role" (trust lambda.amazonaws.com).
LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }],
}
# What Chalice uses when a stage sets neither lambda_timeout nor lambda_memory_size.
DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_MEMORY_MB = 128


@dataclass(frozen=True)
class LocalFunction:
    """One deployed function of a service: the target of one subscription.

    >>> from infra_bootstrap.topology import load_stage
    >>> f = local_functions(load_stage("local"), "order-service", "order-service",
    ...                     ["on_delivery_updated"])[0]
    >>> f.function_name, f.handler
    ('order-service-local-on_delivery_updated', 'app.on_delivery_updated')
    """

    service: str
    subscription: str
    function_name: str
    arn: str

    @property
    def handler(self) -> str:
        """Lambda's handler setting: the subscription's function in the module ``app``."""
        return f"app.{self.subscription}"


def local_functions(stage: Stage, service: str, app_name: str,
                    subscription_names: Iterable[str]) -> tuple[LocalFunction, ...]:
    """The functions ``chalice deploy`` would create for these subscriptions. Pure."""
    account = stage.service(service).account
    functions = []
    for subscription in subscription_names:
        function_name = names.lambda_function_name(app_name, stage.name, subscription)
        functions.append(LocalFunction(
            service=service, subscription=subscription, function_name=function_name,
            arn=names.lambda_function_arn(stage.region, account, function_name)))
    return tuple(functions)


def function_arns(functions: Iterable[LocalFunction]) -> dict[str, dict[str, str]]:
    """``{service: {subscription: function ARN}}``, the shape ``subscribe`` takes. Pure."""
    result: dict[str, dict[str, str]] = {}
    for function in functions:
        result.setdefault(function.service, {})[function.subscription] = function.arn
    return result


@dataclass(frozen=True)
class FunctionLimits:
    """What a function may use: its timeout and memory, as ``chalice deploy`` sets them."""

    timeout_seconds: int
    memory_mb: int


def function_limits(config: Config, stage: str, subscription: str) -> FunctionLimits:
    """The timeout and memory of one function: Chalice's stage / function lookup, then
    Chalice's defaults. Pure.

    >>> config = Config(chalice_stage="local", config_from_disk={"stages": {"local": {
    ...     "lambda_timeout": 65, "lambda_functions": {"f": {"lambda_memory_size": 256}}}}})
    >>> function_limits(config, "local", "f")
    FunctionLimits(timeout_seconds=65, memory_mb=256)
    """
    scoped = config.scope(stage, subscription)
    return FunctionLimits(scoped.lambda_timeout or DEFAULT_TIMEOUT_SECONDS,
                          scoped.lambda_memory_size or DEFAULT_MEMORY_MB)


@dataclass(frozen=True)
class LocalService:
    """A service as ``chalice deploy`` sees it: app, project, config and functions.

    ``functions[i]`` is the deployed function of ``subscriptions[i]``.
    """

    name: str
    app: Any
    project_dir: Path
    config: Config
    subscriptions: tuple[Any, ...]
    functions: tuple[LocalFunction, ...]


def load_service(stage: Stage, service: str) -> LocalService:
    """Import the service's Chalice app and derive its config and functions.

    >>> from infra_bootstrap.topology import load_stage
    >>> load_service(load_stage("local"), "order-service").functions[0].subscription
    'on_delivery_updated'
    """
    from backbone.subscriptions import subscriptions_of
    from infra_bootstrap.service_apps import load_app, service_dir

    app = load_app(service)
    project_dir = service_dir(service)
    config = chalice_config(stage, service, project_dir)
    subscriptions = subscriptions_of(app)
    functions = local_functions(stage, service, config.app_name,
                                [s.name for s in subscriptions])
    return LocalService(service, app, project_dir, config, tuple(subscriptions), functions)


def with_delivery_delay(stage: Stage, seconds: float | None) -> Stage:
    """The stage with DELIVERY_DELAY_SECONDS set for every service that reads it. Pure.

    >>> from infra_bootstrap.topology import load_stage
    >>> stage = with_delivery_delay(load_stage("local"), 0)
    >>> stage.service("delivery-service").environment["DELIVERY_DELAY_SECONDS"]
    '0'
    """
    if seconds is None:
        return stage
    value = f"{seconds:g}"
    services = tuple(
        dataclasses.replace(s, environment={**s.environment, configure.DELAY_VARIABLE: value})
        if configure.DELAY_VARIABLE in configure.service_environment(stage, s) else s
        for s in stage.services)
    return dataclasses.replace(stage, services=services)


def chalice_config(stage: Stage, service: str, project_dir: Path) -> Config:
    """Chalice's own view of the service's config for this stage.

    The stage section comes from ``configure`` (the same generator that writes
    ``.chalice/config.json``), merged into the file on disk if there is one; Chalice's
    ``Config`` then does its stage / function lookup chain, so the environment, timeout
    and memory used locally are exactly those ``chalice deploy`` would use.
    """
    path = project_dir / ".chalice" / "config.json"
    existing = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    generated = configure.service_config(stage, stage.service(service))
    merged = configure.merge_chalice_config(existing, service, stage.name, generated.stage_config)
    return Config(chalice_stage=stage.name,
                  user_provided_params={"project_dir": str(project_dir)},
                  config_from_disk=merged,
                  default_params={"autogen_policy": True})


def deploy_service(stage: Stage, sessions: AccountSessions, service: LocalService) -> None:
    """Create the execution role and every function of one service (idempotent)."""
    account = stage.service(service.name).account
    iam = sessions.client(account, "iam")
    lam = sessions.client(account, "lambda")
    config = service.config
    role = names.lambda_execution_role_name(config.app_name, stage.name)
    role_arn = names.role_arn(account, role)
    tags = names.tags(stage.name)
    try:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
                        Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    except botocore.exceptions.ClientError as exc:
        if _code(exc) != "EntityAlreadyExists":
            raise AwsCallError(account, "iam:CreateRole", role, str(exc)) from None
    # Chalice attaches iam_policy_file as the role's inline policy, named like the role.
    policy = configure.iam_policy(stage, stage.service(service.name))
    _call(account, "iam:PutRolePolicy", role, iam.put_role_policy, RoleName=role,
          PolicyName=role, PolicyDocument=json.dumps(policy))
    code = deployment_package(service.project_dir)
    for function in service.functions:
        scoped = config.scope(stage.name, function.subscription)
        limits = function_limits(config, stage.name, function.subscription)
        spec: dict[str, Any] = {
            "FunctionName": function.function_name,
            "Runtime": scoped.lambda_python_version,
            "Role": role_arn,
            "Handler": function.handler,
            "Timeout": limits.timeout_seconds,
            "MemorySize": limits.memory_mb,
            "Environment": {"Variables": {**scoped.environment_variables,
                                          **local_observability(os.environ)}},
            "Tags": tags,
        }
        try:
            lam.create_function(Code={"ZipFile": code}, **spec)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) != "ResourceConflictException":
                raise AwsCallError(account, "lambda:CreateFunction", function.function_name,
                                   str(exc)) from None
            spec.pop("Tags")
            current = _call(account, "lambda:GetFunction", function.function_name,
                            lam.get_function, FunctionName=function.function_name
                            )["Configuration"]
            # Only what differs is updated: a second deploy of the same sources (a
            # restart with --state-dir) changes nothing.
            if current.get("CodeSha256") != code_sha256(code):
                _call(account, "lambda:UpdateFunctionCode", function.function_name,
                      lam.update_function_code, FunctionName=function.function_name,
                      ZipFile=code)
            if configuration_differs(current, spec):
                _call(account, "lambda:UpdateFunctionConfiguration", function.function_name,
                      lam.update_function_configuration, **spec)


def code_sha256(code: bytes) -> str:
    """A zip's ``CodeSha256`` as the Lambda API reports it: the base64 of its SHA-256
    (Lambda API Reference, FunctionConfiguration).

    >>> code_sha256(b"")
    '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='
    """
    return base64.b64encode(hashlib.sha256(code).digest()).decode()


def configuration_differs(current: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    """Does the function's configuration (GetFunction's) differ from ``spec``
    (UpdateFunctionConfiguration's parameters)?

    >>> configuration_differs({"Timeout": 3, "Environment": {"Variables": {"A": "1"}}},
    ...                       {"FunctionName": "f", "Timeout": 3,
    ...                        "Environment": {"Variables": {"A": "1"}}})
    False
    >>> configuration_differs({"Timeout": 3}, {"Timeout": 60})
    True
    """
    for key, wanted in spec.items():
        if key == "FunctionName":
            continue
        have = current.get(key)
        if key == "Environment":
            have = {"Variables": (have or {}).get("Variables") or {}}
            wanted = {"Variables": (wanted or {}).get("Variables") or {}}
        if have != wanted:
            return True
    return False


def local_observability(environment: Mapping[str, str]) -> dict[str, str]:
    """The tracing settings of ``local up``'s own environment that its functions get too
    (a Lambda function sees only its configuration's variables, so they are set there).
    Pure.

    >>> local_observability({"BACKBONE_TRACES_FILE": "/tmp/t.jsonl", "HOME": "/root"})
    {'BACKBONE_TRACES_FILE': '/tmp/t.jsonl'}
    """
    return {name: environment[name] for name in (TRACES_FILE, EXPORTER)
            if environment.get(name)}


def deploy(stage: Stage, sessions: AccountSessions,
           services: Iterable[LocalService]) -> dict[str, dict[str, str]]:
    """Deploy the services' subscription functions; ``{service: {subscription: ARN}}``."""
    deployed: list[LocalFunction] = []
    for service in services:
        deploy_service(stage, sessions, service)
        deployed.extend(service.functions)
    return function_arns(deployed)


def worker_spec(stage: Stage, service: LocalService, *, endpoint: str,
                credentials: Mapping[str, str], api_port: int) -> WorkerSpec:
    """What the service's API worker runs: its routes on ``api_port`` (0: a free one). Pure.

    >>> from infra_bootstrap.topology import load_stage
    >>> stage = load_stage("local")
    >>> spec = worker_spec(stage, load_service(stage, "order-service"), api_port=0,
    ...                    endpoint="http://127.0.0.1:4566", credentials={})
    >>> spec.api.port, spec.environment["TABLE_NAME"]
    (0, 'order-service-state')
    """
    config = service.config
    # Chalice's local server reads the API handler's limits from the stage-scoped config
    # (function name api_handler), as `chalice local` does.
    api = ApiSpec(port=api_port, lambda_timeout=config.lambda_timeout,
                  lambda_memory_size=config.lambda_memory_size)
    return WorkerSpec(service=service.name, stage=stage.name, region=stage.region,
                      app_dir=str(service.project_dir), endpoint=endpoint,
                      credentials=dict(credentials),
                      environment=dict(config.environment_variables), api=api)


# Fixed member timestamps: the same sources always make the same zip, so CodeSha256 (and
# the local runtime's extracted copy) only changes when the code does.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIPPED_PARTS = frozenset({"__pycache__", ".chalice", ".pytest_cache"})


def package_files(project_dir: Path) -> list[tuple[str, Path]]:
    """(path in the zip, file) of a Chalice deployment package, as ``chalice package``
    lays it out: ``app.py`` and ``chalicelib/`` as they are, the contents of ``vendor/``
    at the zip's root (symlinks followed). Sorted; no bytecode. The requirements'
    packages are not included: the local runtime imports them from its own Python.

    >>> from infra_bootstrap.service_apps import service_dir
    >>> files = dict(package_files(service_dir("order-service")))
    >>> "app.py" in files, "backbone/publisher.py" in files, "vendor/backbone/envelope.py" in files
    (True, True, False)
    """
    members: dict[str, Path] = {}
    app = project_dir / "app.py"
    if app.is_file():
        members["app.py"] = app
    for folder, prefix in ((project_dir / "chalicelib", "chalicelib/"),
                           (project_dir / "vendor", "")):
        if not folder.is_dir():
            continue
        for directory, subdirectories, files in os.walk(folder, followlinks=True):
            subdirectories[:] = [d for d in subdirectories if d not in _SKIPPED_PARTS]
            for file in files:
                path = Path(directory) / file
                if path.suffix != ".pyc":
                    members[prefix + path.relative_to(folder).as_posix()] = path
    return sorted(members.items())


def deployment_package(project_dir: Path) -> bytes:
    """The service's deployment zip (``package_files``), byte-identical for the same
    sources.

    >>> from infra_bootstrap.service_apps import service_dir
    >>> folder = service_dir("delivery-service")
    >>> deployment_package(folder) == deployment_package(folder)
    True
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in package_files(project_dir):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _call(account: str, operation: str, resource: str, method: Any, **kwargs: Any) -> Any:
    try:
        return method(**kwargs)
    except botocore.exceptions.ClientError as exc:
        raise AwsCallError(account, operation, resource, str(exc)) from None


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
