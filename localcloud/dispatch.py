"""Which moto backend app serves a request: moto's dispatcher, without its per-request cost.

moto's ``DomainDispatcherApplication`` finds a request's backend under one process-wide
lock, and on every request lists moto's package folder (``os.listdir`` and an
``os.path.isdir`` per backend module, ~180 system calls) before trying its URL patterns
(moto 5.2.5, ``moto_server/werkzeug_app.py``: ``get_backend_for_host`` calls
``backends.list_of_moto_modules()``). Profiled under ``local up``, a fifth of the
endpoint's busy time was threads queued on that lock. Both answers depend only on the
host name and on moto's installed files, so :class:`Dispatcher` remembers the backend of
each host it has seen, and takes the lock only to create a backend's app the first time.
Which backend serves which request is unchanged: the first lookup of a host is moto's own.
A DynamoDB request then goes straight to moto's handler (:func:`serve_directly`), as
moto's Flask app would send it, without Flask's per-request machinery.

>>> from moto.moto_server.werkzeug_app import create_backend_app
>>> dispatcher = Dispatcher(create_backend_app)
>>> dispatcher.get_backend_for_host("dynamodb"), dispatcher.get_backend_for_host(
...     "logs.eu-west-1.amazonaws.com")
('dynamodb', 'logs')
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from flask import Response as FlaskResponse
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import (
    DEFAULT_SERVICE_REGION,
    BackendRequest,
    DomainDispatcherApplication,
)
from moto.settings import DISABLE_GLOBAL_CORS

from localcloud import json_setup

# Hosts are service names or ``<service>.<region>.amazonaws.com``; a client that sends
# arbitrary ones cannot grow the memo past this (a miss is then moto's own lookup).
MAX_HOSTS = 4096
# Backends whose Flask app has one URL rule, "/", to one handler: their requests to "/"
# skip Flask (serve_directly). DynamoDB is most of what the services send; its handler
# is also spared moto's generic request setup (json_setup).
DIRECT_HANDLERS: dict[Any, Any] = {"dynamodb": json_setup.dispatch}


class Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher with each host's backend remembered and a lock-free fast path."""

    def __init__(self, create_app: Any) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backends[host]
        except KeyError:
            pass
        backend = super().get_backend_for_host(host)
        if len(self._backends) < MAX_HOSTS:
            self._backends[host] = backend
        return backend

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        backend = self.backend_of(environ)
        handler = DIRECT_HANDLERS.get(backend)
        if handler is not None and environ.get("PATH_INFO") == "/" \
                and "HTTP_ORIGIN" not in environ:
            return serve_directly(handler, environ, start_response)
        return self.app_of(backend)(environ, start_response)

    def get_application(self, environ: dict[str, Any]) -> Any:
        """moto's ``get_application``: the same host rules, the lock only to create."""
        return self.app_of(self.backend_of(environ))

    def backend_of(self, environ: dict[str, Any]) -> Any:
        """The name of the moto backend that serves this request (moto's host rules)."""
        path_info = environ.get("PATH_INFO", "")
        if isinstance(path_info, bytes):
            path_info = path_info.decode("utf-8")
        host: str | None = None
        if path_info.startswith("/moto-api") or path_info == "/favicon.ico":
            host = "moto_api"
        elif path_info.startswith(("/latest/meta-data/", "/latest/api/")):
            host = "instance_metadata"
        backend = self.get_backend_for_host(host)
        if not backend:
            # No regular backend found; moto infers one from the signature or the body.
            host = self.infer_service_region_host(environ, path_info)
            if host is None:
                service, region = DEFAULT_SERVICE_REGION
                host = f"{service}.{region}.amazonaws.com"
            backend = self.get_backend_for_host(host)
        return backend

    def app_of(self, backend: Any) -> Any:
        """The backend's Flask app, created once."""
        app = self.app_instances.get(backend)
        if app is None:
            with self.lock:
                app = self.app_instances.get(backend)
                if app is None:
                    app = self.create_app(backend)
                    self.app_instances[backend] = app
        return app


def serve_directly(handler: Any, environ: dict[str, Any], start_response: Any) -> Any:
    """What moto's Flask app does with a request its only URL rule sends to ``handler``
    (``convert_to_flask_response``: moto's request class, the request recorder, a
    ClientError answered 400), without Flask's request context, URL matching and
    response hooks (a sixth of a DynamoDB GetItem's CPU). Of flask-cors's hook, what it
    adds to a request without an ``Origin`` header; a browser's request (with one) still
    goes through Flask (see ``Dispatcher.__call__``). ``handler`` takes moto's request
    (``json_setup.dispatch``)."""
    request = BackendRequest(environ)
    recorder._record_request(request)
    try:
        result = handler(request)
    except ClientError as exc:
        result = 400, {}, exc.response["Error"]["Message"]
    status, headers, content = result if len(result) == 3 else (200, {}, result)
    response = FlaskResponse(response=content, status=status, headers=headers)
    if request.method == "HEAD" and "content-length" in headers:
        response.headers["Content-Length"] = headers["content-length"]
    if not DISABLE_GLOBAL_CORS:  # what flask-cors adds to a request without an Origin
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response(environ, start_response)
