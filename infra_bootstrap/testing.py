"""pytest plugin for flow tests on the local cloud: ``pytest -p infra_bootstrap.testing``
(or ``pytest_plugins = ["infra_bootstrap.testing"]`` in a top-level conftest.py).

Its session fixture ``local_cloud`` starts ``python -m infra_bootstrap local up`` once
for the whole run (free ports, delivery delay 1 s), shared by every pytest-xdist worker,
and stops it when the run ends. It is a :class:`~infra_bootstrap.cloud_handle.LocalCloud`:
``api_url``, ``aws_url``, ``accounts``, ``client(service_name, account)``,
``wait_for_event(pattern, bus="global-bus", timeout=30)`` and ``timeline(correlation_id)``.

A test::

    import requests

    def test_an_order_is_delivered(local_cloud):
        order = requests.post(f"{local_cloud.api_url}/orders", json={}).json()
        updated = local_cloud.wait_for_event(
            {"detail-type": ["Order.Updated"],
             "detail": {"data": {"orderId": [order["orderId"]]}}})
        assert updated["detail"]["data"]["status"] == "DELIVERED"

Set ``BACKBONE_LOCAL_CLOUD`` to the ``cloud.json`` of a cloud another run started to
use that one instead (this run then neither starts nor stops it).

How one cloud serves every xdist worker: the controller (the process that starts the
workers, or the only process without xdist) makes a folder for the run and hands its
path to every worker (``pytest_configure_node``); the first test that asks for
``local_cloud`` starts the cloud under a file lock in that folder; every later one, in
any worker, attaches to it. xdist's ``xdist_group`` cannot do this with pytest 9.2 and
pytest-xdist 3.8 (xdist writes the group into ``item._nodeid``, which pytest 9 no longer
reads). The controller stops the cloud once every worker is done; its terminal summary
says how many clouds the run started.

>>> DELIVERY_DELAY_SECONDS
1
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from infra_bootstrap import cloud_process
from infra_bootstrap.cloud_handle import LocalCloud

ATTACH_ENV = "BACKBONE_LOCAL_CLOUD"
# Short enough not to slow a test that waits for a delivery, long enough to be real work.
DELIVERY_DELAY_SECONDS = 1
_WORKER_INPUT_KEY = "backbone_local_cloud_dir"
_FOLDER = pytest.StashKey[Path]()
_clock: dict[str, int] = {"test_started_ms": int(time.time() * 1000)}
_clouds: list[LocalCloud] = []


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _attached() -> Path | None:
    given = os.environ.get(ATTACH_ENV)
    return Path(given) if given else None


def pytest_configure(config: pytest.Config) -> None:
    if _is_worker(config):
        config.stash[_FOLDER] = Path(config.workerinput[_WORKER_INPUT_KEY])  # type: ignore[attr-defined]
    else:
        config.stash[_FOLDER] = Path(tempfile.mkdtemp(prefix="backbone-local-cloud-"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput[_WORKER_INPUT_KEY] = str(node.config.stash[_FOLDER])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """``wait_for_event`` looks at what arrived since the current test began."""
    _clock["test_started_ms"] = int(time.time() * 1000)
    for cloud in _clouds:
        cloud.test_started_ms = _clock["test_started_ms"]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    starts = cloud_process.starts(config.stash[_FOLDER])
    if starts:
        terminalreporter.write_line(
            f"local cloud: {len(starts)} started for this run ({'; '.join(starts)})")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _is_worker(config) or _FOLDER not in config.stash:
        return
    folder = config.stash[_FOLDER]
    cloud = cloud_process.read_state(folder / cloud_process.STATE_FILE)
    if cloud is not None:
        cloud_process.stop(cloud.pid)
    shutil.rmtree(folder, ignore_errors=True)


def state_file(config: pytest.Config) -> Path:
    """The ``cloud.json`` of this run's local cloud (what ``BACKBONE_LOCAL_CLOUD`` takes)."""
    return _attached() or config.stash[_FOLDER] / cloud_process.STATE_FILE


@pytest.fixture(scope="session")
def local_cloud(pytestconfig: pytest.Config) -> LocalCloud:
    """The run's one local cloud (``local up``), started by the first test that needs it."""
    attached = _attached()
    if attached is not None:
        found = cloud_process.read_state(attached)
        if found is None:
            pytest.fail(f"{ATTACH_ENV}={attached}: no local cloud state there")
    else:
        found = _shared(pytestconfig.stash[_FOLDER])
    if not found.alive():
        pytest.fail(f"the local cloud (pid {found.pid}) is gone; its stderr: "
                    f"{cloud_process.tail(found.stderr_path)}")
    cloud = LocalCloud(found, test_started_ms=_clock["test_started_ms"])
    _clouds.append(cloud)
    return cloud


def _shared(folder: Path) -> cloud_process.CloudProcess:
    with cloud_process.locked(folder / "lock"):
        found = cloud_process.read_state(folder / cloud_process.STATE_FILE)
        if found is not None:
            return found
        failed = folder / "failed"
        if failed.exists():
            pytest.fail(f"the local cloud did not start: {failed.read_text()}")
        try:
            starter = os.environ.get("PYTEST_XDIST_WORKER", "controller")
            return cloud_process.start(folder, starter,
                                       "--delivery-delay", str(DELIVERY_DELAY_SECONDS))
        except cloud_process.StartFailed as exc:
            failed.write_text(str(exc))
            pytest.fail(f"the local cloud did not start: {exc}")
