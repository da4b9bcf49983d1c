"""Import a service's Chalice app from this repository, as the bootstrap tools need it.

The topology names the services; each one's code is a folder of the repository named
after it (``order-service`` -> ``order_service/app.py``, defining a Chalice ``app``).
Adding a service is an entry in ``topology.toml`` plus that folder, nothing else.
The app is imported by file path under a module name of its own, so two apps (each an
``app.py``) live in one process. Importing an app needs no environment variable,
credentials or network (the services read their settings at first use).

>>> app = load_app("order-service")
>>> app.app_name
'order-service'
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from infra_bootstrap import names
from infra_bootstrap.errors import UsageError
from infra_bootstrap.topology import REPO_ROOT

_MODULE_PREFIX = "backbone_service_app_"
_modules: dict[Path, ModuleType] = {}
_lock = threading.Lock()


def service_dir(service: str, root: Path | None = None) -> Path:
    """The folder of a service's Chalice project (``order-service`` -> ``order_service``)
    in ``root``, by default this repository.

    >>> service_dir("order-service") == REPO_ROOT / "order_service"
    True
    """
    return (root or REPO_ROOT) / names.service_app_dir(service)


def load_app(service: str) -> Any:
    """The ``app`` (a ``chalice.Chalice``) of a service, imported once per process.

    Raises UsageError when the service has no ``app.py`` or it defines no Chalice app.
    """
    from chalice import Chalice

    path = service_dir(service) / "app.py"
    app = getattr(_load(service, path), "app", None)
    if not isinstance(app, Chalice):
        raise UsageError(f"service {service}: {path} defines no Chalice `app`")
    return app


def load_module(service: str) -> Any:
    """The imported app module itself (tests reach its table, publisher and helpers)."""
    load_app(service)
    return _modules[service_dir(service) / "app.py"]


def _load(service: str, path: Path) -> ModuleType:
    with _lock:
        module = _modules.get(path)
        if module is not None:
            return module
        if not path.is_file():
            raise UsageError(f"service {service}: no Chalice app at {path} (a service of "
                             "the topology needs its folder in the repository)")
        # One module per file: an app folder elsewhere (a test's tree) is another module.
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
        name = f"{_MODULE_PREFIX}{service.replace('-', '_')}_{digest}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise UsageError(f"service {service}: cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # as an import would: dataclasses look their module up
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        _modules[path] = module
        return module
