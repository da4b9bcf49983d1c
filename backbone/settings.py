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

