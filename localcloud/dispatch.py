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

>>> from moto.moto_server.werkzeug_app import create_backend_app
>>> dispatcher = Dispatcher(create_backend_app)
>>> dispatcher.get_backend_for_host("dynamodb"), dispatcher.get_backend_for_host(
...     "logs.eu-west-1.amazonaws.com")
('dynamodb', 'logs')
"""

from __future__ import annotations

from typing import Any

from moto.moto_server.werkzeug_app import DEFAULT_SERVICE_REGION, DomainDispatcherApplication

# Hosts are service names or ``<service>.<region>.amazonaws.com``; a client that sends
# arbitrary ones cannot grow the memo past this (a miss is then moto's own lookup).
MAX_HOSTS = 4096


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

    def get_application(self, environ: dict[str, Any]) -> Any:
        """moto's ``get_application``: the same host rules, the lock only to create."""
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
        app = self.app_instances.get(backend)
        if app is None:
            with self.lock:
                app = self.app_instances.get(backend)
                if app is None:
                    app = self.create_app(backend)
                    self.app_instances[backend] = app
        return app

