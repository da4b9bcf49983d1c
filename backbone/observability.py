"""Structured JSON logs and EMF metrics (Powertools for AWS Lambda), built at first use.

Every log line carries the service name and, inside :func:`invocation`, the
correlation id. Metrics are flushed as one EMF document when the invocation ends.

>>> with invocation(correlation_id="c-1", context=None):  # doctest: +ELLIPSIS
...     logger().info("order stored", extra={"order_id": "o-1"})
...     count("OrdersCreated")
{"level":"INFO",...,"message":"order stored",...,"correlation_id":"c-1","order_id":"o-1"}
{"_aws":{...,"Metrics":[{"Name":"OrdersCreated","Unit":"Count"}]}]},...,"OrdersCreated":[1.0]}
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, cast

from backbone import settings

# Metric names (CloudWatch, namespace settings.metrics_namespace()).
ORDERS_CREATED = "OrdersCreated"
ORDERS_DELIVERED = "OrdersDelivered"
EVENTS_PUBLISHED = "EventsPublished"
EVENTS_FAILED = "EventsFailed"

_state: dict[str, Any] = {}
_lock = threading.Lock()
# Powertools keeps one metric set per process and is not thread-safe: its flush
# serializes, prints, then clears. Concurrent invocations (the local worker runs handlers
# on threads) would lose, duplicate or fail on metrics; one lock orders adds and flushes.
_metrics_lock = threading.Lock()
_default_service = "backbone"


class _Stdout:
    """Writes to whatever sys.stdout is now (Lambda's stdout; pytest's capture)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def configure(default_service: str) -> None:
    """Name used when neither POWERTOOLS_SERVICE_NAME nor SERVICE_NAME is set.

    Cheap: builds nothing; a service app calls it at import with its own name.
    """
    global _default_service
    _default_service = default_service


def service_name() -> str:
    """The service name on logs, metrics and spans (POWERTOOLS_SERVICE_NAME, SERVICE_NAME,
    else the name given to :func:`configure`)."""
    return settings.powertools_service_name(_default_service)


def logger() -> Any:
    """The service's Powertools Logger (JSON lines on stdout)."""
    if "logger" not in _state:
        with _lock:
            if "logger" not in _state:
                from aws_lambda_powertools import Logger

                # Powertools only writes and flushes its stream: _Stdout is enough.
                _state["logger"] = Logger(
                    service=settings.powertools_service_name(_default_service),
                    level=settings.log_level(), stream=cast(IO[str], _Stdout()))
    return _state["logger"]


def metrics() -> Any:
    """The service's Powertools Metrics (CloudWatch embedded metric format)."""
    if "metrics" not in _state:
        with _lock:
            if "metrics" not in _state:
                from aws_lambda_powertools import Metrics

                _state["metrics"] = Metrics(
                    namespace=settings.metrics_namespace(),
                    service=settings.powertools_service_name(_default_service))
    return _state["metrics"]


def count(name: str, value: int = 1) -> None:
    """Add to a Count metric of the current invocation."""
    from aws_lambda_powertools.metrics import MetricUnit

    m = metrics()
    with _metrics_lock:
        m.add_metric(name=name, unit=MetricUnit.Count, value=value)


@contextmanager
def invocation(correlation_id: str | None = None, context: Any = None) -> Iterator[Any]:
    """Scope one Lambda invocation or HTTP request: correlation id on every log line
    (thread-local, so concurrent invocations in one process do not mix), metrics
    flushed at the end even when the body raises."""
    log = logger()
    keys: dict[str, Any] = {"correlation_id": correlation_id}
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        keys["function_request_id"] = request_id
    log.thread_safe_append_keys(**keys)
    try:
        yield log
    finally:
        log.thread_safe_clear_keys()
        flush_metrics()


def set_correlation_id(correlation_id: str) -> None:
    """Change the correlation id of the current invocation's log lines."""
    logger().thread_safe_append_keys(correlation_id=correlation_id)


def flush_metrics() -> None:
    """Print pending metrics as one EMF document (nothing when there are none)."""
    m = metrics()
    with _metrics_lock:
        if m.metric_set:
            m.flush_metrics()


def reset() -> None:
    """Forget the Logger and Metrics (tests change the environment between cases)."""
    with _lock:
        m = _state.pop("metrics", None)
        if m is not None:
            m.clear_metrics()
        _state.pop("logger", None)
