"""boto3 clients created at first use and cached for the life of the process.

A Lambda execution environment reuses them across invocations (creating a client
costs tens of milliseconds); nothing here runs at import time.

>>> client("events") is client("events")
True
"""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def client(service: str) -> Any:
    """The process-wide boto3 client of an AWS service, created on first call.

    Credentials and region come from the standard chain (the Lambda role,
    ``AWS_REGION``); ``AWS_ENDPOINT_URL`` points it at the local cloud.
    """
    cached = _clients.get(service)
    if cached is not None:
        return cached
    with _lock:
        if service not in _clients:
            import boto3  # at first use: importing a service app stays cheap
            from botocore.config import Config

            # Standard retry mode retries throttling and transient errors of the whole
            # call with backoff; short timeouts keep a stuck call inside the Lambda timeout.
            config = Config(retries={"mode": "standard", "max_attempts": 3},
                            connect_timeout=3, read_timeout=10)
            _clients[service] = boto3.session.Session().client(service, config=config)
        return _clients[service]


def reset_clients() -> None:
    """Forget every cached client (tests switch credentials between cases)."""
    with _lock:
        _clients.clear()
