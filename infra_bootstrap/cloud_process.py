"""``local up`` as a background process for a test run: start it, find it, stop it.

The state of a running cloud lives in a folder: ``cloud.json`` (its pid, the URLs of
its ready line, its stderr file), ``stdout.log``/``stderr.log``, ``starts.log``; a file
lock there lets several processes (pytest-xdist workers) start it once between them,
as pytest-xdist's documentation suggests ("Making session-scoped fixtures execute only
once").

>>> READY.fullmatch("ready: api=http://127.0.0.1:8000 aws=http://127.0.0.1:4566").groups()
('http://127.0.0.1:8000', 'http://127.0.0.1:4566')
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from backbone.tracing import TRACES_FILE
from infra_bootstrap.topology import REPO_ROOT

# Deadlines on real conditions (the ready line, the process gone), generous enough for a
# loaded 2-core machine: they only cost time when something is broken.
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
POLL_SECONDS = 0.1
READY = re.compile(r"ready: api=(http://127\.0\.0\.1:\d+) aws=(http://127\.0\.0\.1:\d+)")
STATE_FILE = "cloud.json"


@dataclass(frozen=True)
class CloudProcess:
    """A running ``local up``: its process id, the URLs its ready line names, and the
    secret of its control routes (given to it as ``LOCALCLOUD_CONTROL_SECRET``)."""

    pid: int
    api: str
    aws: str
    stderr_path: Path
    #: Where the services' spans go (``BACKBONE_TRACES_FILE``), when the cloud was started
    #: by :func:`start`.
    traces_path: Path | None = None
    control_secret: str = ""

    @property
    def control_headers(self) -> dict[str, str]:
        """The header the endpoint's control routes (``/_local/*``) require."""
        return {"X-Localcloud-Secret": self.control_secret}

    def alive(self) -> bool:
        return alive(self.pid)


class StartFailed(Exception):
    """``local up`` exited, printed something else, or was not ready in time."""


def alive(pid: int) -> bool:
    """Is the process running (not gone, not a zombie)? Linux /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def clean_env(tmpdir: Path | None = None) -> dict[str, str]:
    """The environment of a user with no AWS configuration at all.

    ``tmpdir`` becomes TMPDIR, so service logs left by a killed `local up` stay there.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE="/nonexistent/aws-config",
               AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
               PYTHONUNBUFFERED="1")
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return env


def start(folder: Path, starter: str, *extra_args: str) -> CloudProcess:
    """Start ``local up`` (free ports) writing its output into ``folder``; wait for ready."""
    stdout_path, stderr_path = folder / "stdout.log", folder / "stderr.log"
    tmp = folder / "tmp"
    tmp.mkdir(exist_ok=True)
    traces = folder / "traces.jsonl"
    secret = secrets.token_urlsafe(32)
    env = {**clean_env(tmp), TRACES_FILE: str(traces), "LOCALCLOUD_CONTROL_SECRET": secret}
    command = [sys.executable, "-m", "infra_bootstrap", "local", "up", "--aws-port", "0",
               "--api-port", "0", *extra_args]
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
    with open(folder / "starts.log", "a") as starts:
        starts.write(f"pid {process.pid} by {starter}\n")
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        first = stdout_path.read_text().partition("\n")
        if first[1]:
            ready = READY.fullmatch(first[0])
            if ready is None:
                stop(process.pid)
                raise StartFailed(f"not a ready line: {first[0]!r}")
            break
        if process.poll() is not None:
            raise StartFailed(f"local up exited {process.returncode} before ready: "
                              f"{tail(stderr_path)}")
        if time.monotonic() > deadline:
            stop(process.pid)
            raise StartFailed(f"no ready line within {READY_TIMEOUT:g} s: {tail(stderr_path)}")
        time.sleep(POLL_SECONDS)
    cloud = CloudProcess(process.pid, ready.group(1), ready.group(2), stderr_path, traces,
                         secret)
    (folder / STATE_FILE).write_text(json.dumps(
        {"pid": cloud.pid, "api": cloud.api, "aws": cloud.aws, "stderr": str(stderr_path),
         "traces": str(traces), "control_secret": secret}))
    return cloud


def read_state(path: Path) -> CloudProcess | None:
    """The cloud a state file (``cloud.json``) describes, or None if there is none."""
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    traces = state.get("traces")
    return CloudProcess(state["pid"], state["api"], state["aws"], Path(state["stderr"]),
                        Path(traces) if traces else None, state.get("control_secret", ""))


def starts(folder: Path) -> list[str]:
    """One line per ``local up`` started in ``folder``."""
    try:
        return (folder / "starts.log").read_text().splitlines()
    except OSError:
        return []


def stop(pid: int) -> None:
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


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, or ``(no stderr)``."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no stderr)"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive file lock held for the ``with`` block."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
