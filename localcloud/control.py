"""The secret that guards the local cloud's own control routes.

``/_local/*`` (the local cloud's routes) and ``/moto-api/*`` (moto's: reset, state,
dashboard) change or reveal the whole cloud, so only ``local up``, ``python -m
localcloud`` and the processes they start may call them: a request must carry the
header ``X-Localcloud-Secret`` with the endpoint's secret, else 403. The secret is
``LOCALCLOUD_CONTROL_SECRET`` from the environment when set, else a new random one per
start (``python -m localcloud`` prints it on its ``control secret:`` line).

>>> guard = ControlGuard("s3cret")
>>> guard.guards("/_local/stats"), guard.guards("/moto-api/reset"), guard.guards("/")
(True, True, False)
>>> guard.admits({"HTTP_X_LOCALCLOUD_SECRET": "s3cret"}), guard.admits({})
(True, False)
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from typing import Any

SECRET_HEADER = "X-Localcloud-Secret"
SECRET_ENV = "LOCALCLOUD_CONTROL_SECRET"
_ENVIRON_KEY = "HTTP_" + SECRET_HEADER.upper().replace("-", "_")
_GUARDED_PREFIXES = ("/_local/", "/moto-api")


def control_secret(environ: Mapping[str, str] | None = None) -> str:
    """``LOCALCLOUD_CONTROL_SECRET`` if set and not empty, else a new random secret.

    >>> control_secret({SECRET_ENV: "given"})
    'given'
    >>> len(control_secret({})) >= 32
    True
    """
    given = (os.environ if environ is None else environ).get(SECRET_ENV, "")
    return given or secrets.token_urlsafe(32)


class ControlGuard:
    """Decides whether a request may use a control route (pure, constant-time compare)."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the control secret must not be empty")
        self.secret = secret

    @staticmethod
    def guards(path: str) -> bool:
        """Is ``path`` a control route (local or moto's)?"""
        return path.startswith(_GUARDED_PREFIXES)

    def admits(self, environ: Mapping[str, Any]) -> bool:
        """Does the WSGI request carry the secret?"""
        given = environ.get(_ENVIRON_KEY)
        return isinstance(given, str) and hmac.compare_digest(given.encode(),
                                                              self.secret.encode())

    def headers(self) -> dict[str, str]:
        """The header a client of the control routes sends.

        >>> ControlGuard("x").headers()
        {'X-Localcloud-Secret': 'x'}
        """
        return {SECRET_HEADER: self.secret}
