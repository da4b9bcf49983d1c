"""Import a service's Chalice app from this repository, as the bootstrap tools need it.

``<service>/app.py`` (``order-service`` -> ``order_service/app.py``) is imported by
file path under a unique module name, with the repository root on ``sys.path`` so
``backbone`` imports. Importing an app needs no environment variable, credentials or
network (the services read their settings at first use).

>>> app = load_app("order-service")
>>> app.app_name
'order-service'
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any

from infra_bootstrap import names
from infra_bootstrap.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("order-service", "delivery-service")
_MODULE_PREFIX = "backbone_service_app_"
_lock = threading.Lock()


def service_dir(service: str) -> Path:
    """The folder of a service's Chalice project (``order-service`` -> ``order_service``)."""
    return REPO_ROOT / names.service_app_dir(service)


def load_app(service: str) -> Any:
    """The ``app`` (a ``chalice.Chalice``) of a service, imported once per process.

    Raises UsageError when the service has no ``app.py`` or it defines no Chalice app.
    """
    path = service_dir(service) / "app.py"
    module_name = _MODULE_PREFIX + service.replace("-", "_")
    with _lock:
        module = sys.modules.get(module_name)
        if module is None:
            if not path.is_file():
                raise UsageError(f"service {service}: no Chalice app at {path}")
            if str(REPO_ROOT) not in sys.path:
                sys.path.insert(0, str(REPO_ROOT))
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise UsageError(f"service {service}: cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[module_name]
                raise
    from chalice import Chalice

    app = getattr(module, "app", None)
    if not isinstance(app, Chalice):
        raise UsageError(f"service {service}: {path} defines no Chalice `app`")
    return app


def load_module(service: str) -> Any:
    """The imported app module itself (tests reach its table, publisher and helpers)."""
    load_app(service)
    return sys.modules[_MODULE_PREFIX + service.replace("-", "_")]
