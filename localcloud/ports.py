"""Where the endpoint listens: loopback only, and whether a port is free.

>>> check_loopback("0.0.0.0")
Traceback (most recent call last):
...
ValueError: the local endpoint binds to loopback only, not '0.0.0.0'
>>> bind_error(DEFAULT_HOST, 0) is None
True
"""

from __future__ import annotations

import socket

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is a loopback address: nothing here is meant to be
    reachable from another machine (no signature is verified)."""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"the local endpoint binds to loopback only, not {host!r}")


def bind_error(host: str, port: int) -> OSError | None:
    """Why a server could not bind ``host:port`` now, or None when it could.

    Binds with SO_REUSEADDR, as the servers do: a port in TIME_WAIT is free, a listener is
    not. Port 0 (the system picks one) is always free.
    """
    if port == 0:
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc
    return None
