"""The public invocation URL of a REST API stage, as local AWS emulators spell it.

``/restapis/<api-id>/<stage>/_user_request_/<path>`` on the endpoint stands for
``https://<api-id>.execute-api.<region>.amazonaws.com/<stage>/<path>``. These requests
are public, as API Gateway's URL is: they carry no AWS credentials, so whatever checks
credentials on the endpoint must let :func:`is_public_path` through.

>>> user_request("/restapis/abc123/api/_user_request_/orders/42")
UserRequest(api_id='abc123', stage='api', path='/orders/42')
>>> user_request("/restapis/abc123/api/_user_request_") .path
'/'
>>> is_public_path("/restapis/abc123/stages"), is_public_path("/restapis/a/b/_user_request_/x")
(False, True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = "_user_request_"
_USER_REQUEST = re.compile(r"^/restapis/([^/]+)/([^/]+)/" + MARKER + r"(/.*)?$")


@dataclass(frozen=True)
class UserRequest:
    """Which API and stage a public request is for, and the path the client asked for."""

    api_id: str
    stage: str
    path: str


def user_request(path: str) -> UserRequest | None:
    """The API, stage and client path of a public invocation path, or None."""
    found = _USER_REQUEST.match(path)
    if found is None:
        return None
    return UserRequest(found[1], found[2], found[3] or "/")


def is_public_path(path: str) -> bool:
    """True for the public invocation paths of REST APIs (no AWS credentials needed)."""
    return _USER_REQUEST.match(path) is not None


def local_url(endpoint_url: str, api_id: str, stage: str) -> str:
    """The base URL of a deployed stage on a local endpoint (append the route's path).

    >>> local_url("http://127.0.0.1:4566/", "abc123", "api")
    'http://127.0.0.1:4566/restapis/abc123/api/_user_request_'
    """
    return f"{endpoint_url.rstrip('/')}/restapis/{api_id}/{stage}/{MARKER}"
