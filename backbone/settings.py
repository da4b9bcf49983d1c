"""The environment variables a service reads, each read at first use, never at import.

``infra_bootstrap configure`` writes them into each service's ``.chalice/config.json``
from ``topology.toml``; these names are the contract between the two.

>>> import os; os.environ["DELIVERY_DELAY_SECONDS"] = "0"
>>> delivery_delay_seconds()
0.0
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence

from backbone.errors import ConfigurationError

GLOBAL_BUS_ARN = "GLOBAL_BUS_ARN"
SERVICE_NAME = "SERVICE_NAME"
TABLE_NAME = "TABLE_NAME"
DELIVERY_DELAY_SECONDS = "DELIVERY_DELAY_SECONDS"
LOG_LEVEL = "LOG_LEVEL"
POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"

ALL = (GLOBAL_BUS_ARN, SERVICE_NAME, TABLE_NAME, DELIVERY_DELAY_SECONDS, LOG_LEVEL,
       POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE)

DEFAULT_DELIVERY_DELAY_SECONDS = 5.0
DEFAULT_LOG_LEVEL = "INFO"
DEFAULT_METRICS_NAMESPACE = "Backbone"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


# The chalice command line sets this while it runs (chalice/cli/__init__.py), and imports
# app.py with the chosen stage's environment_variables from .chalice/config.json.
CHALICE_CLI_MODE = "AWS_CHALICE_CLI_MODE"
CHALICE_DEFAULT_STAGE = "dev"
_CHALICE_COMMANDS = ("deploy", "package", "local", "delete", "invoke", "url", "logs")


def require_configured_stage(app_name: str, argv: Sequence[str] | None = None,
                             environ: Mapping[str, str] | None = None) -> None:
    """Stop a chalice command (deploy, package, local) for a stage `configure` has not
    written, with one line saying what to do, before Chalice fails deep inside (its
    policy analyzer crashes on these apps with ``KeyError: 'dict'``).

    A stage is configured when Chalice gave the app its environment: `configure` writes
    ``SERVICE_NAME`` into every stage it writes. Outside the chalice command line (in
    Lambda, in tests) there is nothing to check.

    >>> require_configured_stage("order-service", environ={})  # not under `chalice`
    >>> try:
    ...     require_configured_stage("order-service", ["chalice", "deploy"],
    ...                              environ={CHALICE_CLI_MODE: "true"})
    ... except SystemExit as stop:
    ...     print(stop)
    order-service: Chalice stage 'dev' is not configured: run `python -m infra_bootstrap \
configure --stage STAGE`, then `chalice deploy --stage STAGE` (a stage of topology.toml)
    """
    env = os.environ if environ is None else environ
    if env.get(CHALICE_CLI_MODE) != "true" or env.get(SERVICE_NAME, "").strip():
        return
    args = list(sys.argv if argv is None else argv)
    command = next((a for a in args[1:] if a in _CHALICE_COMMANDS), "deploy")
    stage = CHALICE_DEFAULT_STAGE
    for index, arg in enumerate(args):
        if arg == "--stage" and index + 1 < len(args):
            stage = args[index + 1]
        elif arg.startswith("--stage="):
            stage = arg.split("=", 1)[1]
    raise SystemExit(f"{app_name}: Chalice stage {stage!r} is not configured: run `python -m "
                     "infra_bootstrap configure --stage STAGE`, then `chalice "
                     f"{command} --stage STAGE` (a stage of topology.toml)")


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(name, "is not set (infra_bootstrap configure writes it "
                                 "into .chalice/config.json)")
    return value


def global_bus_arn() -> str:
    """ARN of the global bus every event is published to (``PutEvents`` EventBusName)."""
    value = _required(GLOBAL_BUS_ARN)
    if not value.startswith("arn:") or ":event-bus/" not in value:
        raise ConfigurationError(GLOBAL_BUS_ARN, f"is not an event bus ARN: {value!r}")
    return value


def service_name() -> str:
    """The service's name (``order-service``); also the ``source`` of its events."""
    return _required(SERVICE_NAME)


def table_name() -> str:
    """The service's one DynamoDB table (``infra_bootstrap.names.service_table``)."""
    return _required(TABLE_NAME)


def delivery_delay_seconds() -> float:
    """Simulated delivery work in seconds (delivery service only); default 5."""
    raw = os.environ.get(DELIVERY_DELAY_SECONDS, "").strip()
    if not raw:
        return DEFAULT_DELIVERY_DELAY_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(DELIVERY_DELAY_SECONDS,
                                 f"must be a number of seconds >= 0, not {raw!r}")
    return value


def log_level() -> str:
    """Log level name, default INFO."""
    value = os.environ.get(LOG_LEVEL, "").strip().upper() or DEFAULT_LOG_LEVEL
    if value not in _LOG_LEVELS:
        raise ConfigurationError(LOG_LEVEL, f"must be one of {', '.join(_LOG_LEVELS)}, "
                                 f"not {value!r}")
    return value


def powertools_service_name(default: str) -> str:
    """Service name on every log line and metric; falls back to SERVICE_NAME, then default."""
    return (os.environ.get(POWERTOOLS_SERVICE_NAME, "").strip()
            or os.environ.get(SERVICE_NAME, "").strip() or default)


def metrics_namespace() -> str:
    """CloudWatch namespace of the EMF metrics, default ``Backbone``."""
    return os.environ.get(POWERTOOLS_METRICS_NAMESPACE, "").strip() or DEFAULT_METRICS_NAMESPACE

