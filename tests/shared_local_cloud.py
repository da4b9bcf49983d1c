"""The project's integration tests run on the pytest plugin ``infra_bootstrap.testing``.

Its ``local_cloud`` fixture starts one ``local up`` for the whole run, shared by every
pytest-xdist worker (see that module). This module keeps the names the project's tests
already use: the fixture ``shared_local_cloud`` (the same object as ``local_cloud``),
``SharedCloud`` (its type) and the process helpers.

Registered from tests/conftest.py (``pytest_plugins``), after the plugin itself.
"""

from __future__ import annotations

import pytest

from infra_bootstrap.cloud_handle import LocalCloud
from infra_bootstrap.cloud_process import (
    READY,
    READY_TIMEOUT,
    STOP_TIMEOUT,
    alive,
    clean_env,
)
from infra_bootstrap.testing import DELIVERY_DELAY_SECONDS
from infra_bootstrap.topology import REPO_ROOT

SharedCloud = LocalCloud

__all__ = ["DELIVERY_DELAY_SECONDS", "READY", "READY_TIMEOUT", "REPO_ROOT", "STOP_TIMEOUT",
           "SharedCloud", "alive", "clean_env", "shared_local_cloud"]


@pytest.fixture(scope="session")
def shared_local_cloud(local_cloud: LocalCloud) -> LocalCloud:
    """The run's one ``local up`` (delivery delay 1 s): the plugin's ``local_cloud``."""
    return local_cloud
