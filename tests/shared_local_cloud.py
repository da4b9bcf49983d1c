"""One ``local up`` for the whole test run, shared by every pytest-xdist worker.

pytest-xdist runs a session fixture once per worker. Its ``xdist_group`` mark, meant to
send every test of a group to one worker, does nothing with the pinned pytest 9.2 and
pytest-xdist 3.8 (xdist writes the group into ``item._nodeid``, which pytest 9 no longer
reads: node ids live in ``item._id``), so each worker used to start its own cloud.

Here, the controller (the process that starts the workers, or the only process without
xdist) makes a folder for the run and hands its path to every worker
(``pytest_configure_node``). The first test that asks for ``shared_local_cloud`` starts
``local up`` under a file lock in that folder, as pytest-xdist's documentation suggests
("Making session-scoped fixtures execute only once"); every later one, in any worker,
attaches to it. ``local up`` writes its output to files there (not to a pipe of the
worker that started it, which may finish first). The controller stops it once every
worker is done, and its terminal summary says how many clouds the run started.

Registered from tests/conftest.py (``pytest_plugins``), so the controller loads it too.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DELIVERY_DELAY_SECONDS = 1
# Deadlines on real conditions (the ready line, the process gone), generous enough for a
# loaded 2-core machine: they only cost time when something is broken.
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
POLL_SECONDS = 0.1
READY = re.compile(r"ready: api=(http://127\.0\.0\.1:\d+) aws=(http://127\.0\.0\.1:\d+)")
_WORKER_INPUT_KEY = "shared_local_cloud_dir"
_FOLDER = pytest.StashKey[Path]()


@dataclass(frozen=True)
class SharedCloud:
    """The run's ``local up``: its process id, the URLs its ready line names, and the
    secret of its control routes (given to it as ``LOCALCLOUD_CONTROL_SECRET``)."""

    pid: int
    api: str
    aws: str
    stderr_path: Path
    control_secret: str

    @property
    def control_headers(self) -> dict[str, str]:
        return {"X-Localcloud-Secret": self.control_secret}

    def alive(self) -> bool:
        return alive(self.pid)


def alive(pid: int) -> bool:
    """Is the process running (not gone, not a zombie)? Linux /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def clean_env(tmpdir: Path | None = None) -> dict[str, str]:
    """The environment of a user with no AWS configuration at all.

    ``tmpdir`` becomes TMPDIR, so service logs left by a killed `local up` stay in the
    test's own temporary directory.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE="/nonexistent/aws-config",
               AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
               PYTHONUNBUFFERED="1")
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return env


# --- hooks: the controller owns the folder and the cloud's end ---------------------------


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _is_worker(config):
        config.stash[_FOLDER] = Path(config.workerinput[_WORKER_INPUT_KEY])  # type: ignore[attr-defined]
    else:
        config.stash[_FOLDER] = Path(tempfile.mkdtemp(prefix="shared-local-cloud-"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput[_WORKER_INPUT_KEY] = str(node.config.stash[_FOLDER])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    starts = _starts(config.stash[_FOLDER])
    if starts:
        terminalreporter.write_line(
            f"shared local cloud: {len(starts)} started for this run ({'; '.join(starts)})")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _is_worker(config) or _FOLDER not in config.stash:
        return
    folder = config.stash[_FOLDER]
    cloud = _read_state(folder)
    if cloud is not None:
        _stop(cloud.pid)
    shutil.rmtree(folder, ignore_errors=True)


# --- the fixture ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_local_cloud(pytestconfig: pytest.Config) -> SharedCloud:
    """The run's one ``local up`` (delivery delay 1 s), started by the first test that
    needs it."""
    folder = pytestconfig.stash[_FOLDER]
    with _locked(folder / "lock"):
        cloud = _read_state(folder)
        if cloud is None:
            failed = folder / "failed"
            if failed.exists():
                pytest.fail(f"the shared local cloud did not start: {failed.read_text()}")
            try:
                cloud = _start(folder, os.environ.get("PYTEST_XDIST_WORKER", "controller"))
            except _StartFailed as exc:
                failed.write_text(str(exc))
                pytest.fail(f"the shared local cloud did not start: {exc}")
    if not cloud.alive():
        pytest.fail(f"the shared local cloud (pid {cloud.pid}) is gone; its stderr: "
                    f"{_tail(cloud.stderr_path)}")
    return cloud


class _StartFailed(Exception):
    pass


def _start(folder: Path, starter: str) -> SharedCloud:
    stdout_path, stderr_path = folder / "stdout.log", folder / "stderr.log"
    tmp = folder / "tmp"
    tmp.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "infra_bootstrap", "local", "up", "--aws-port", "0",
               "--api-port", "0", "--delivery-delay", str(DELIVERY_DELAY_SECONDS)]
    secret = secrets.token_urlsafe(32)
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(command, cwd=REPO_ROOT,
                                   env={**clean_env(tmp), "LOCALCLOUD_CONTROL_SECRET": secret},
                                   stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
    with open(folder / "starts.log", "a") as starts:
        starts.write(f"pid {process.pid} by {starter}\n")
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        first = stdout_path.read_text().partition("\n")
        if first[1]:
            ready = READY.fullmatch(first[0])
            if ready is None:
                _stop(process.pid)
                raise _StartFailed(f"not a ready line: {first[0]!r}")
            break
        if process.poll() is not None:
            raise _StartFailed(f"local up exited {process.returncode} before ready: "
                               f"{_tail(stderr_path)}")
        if time.monotonic() > deadline:
            _stop(process.pid)
            raise _StartFailed(f"no ready line within {READY_TIMEOUT:g} s: {_tail(stderr_path)}")
        time.sleep(POLL_SECONDS)
    cloud = SharedCloud(process.pid, ready.group(1), ready.group(2), stderr_path, secret)
    (folder / "cloud.json").write_text(json.dumps(
        {"pid": cloud.pid, "api": cloud.api, "aws": cloud.aws, "stderr": str(stderr_path),
         "control_secret": secret}))
    return cloud


def _read_state(folder: Path) -> SharedCloud | None:
    try:
        state = json.loads((folder / "cloud.json").read_text())
    except (OSError, ValueError):
        return None
    return SharedCloud(state["pid"], state["api"], state["aws"], Path(state["stderr"]),
                       state["control_secret"])


def _starts(folder: Path) -> list[str]:
    try:
        return (folder / "starts.log").read_text().splitlines()
    except OSError:
        return []


def _stop(pid: int) -> None:
    """SIGTERM (local up stops its workers and exits), SIGKILL after STOP_TIMEOUT."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if this process started it
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(POLL_SECONDS)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no stderr)"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
