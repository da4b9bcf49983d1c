"""One worker process: a Python interpreter running :mod:`localcloud.runtime.bootstrap`,
spoken to over its stdin/stdout pipes (no port), one invocation at a time.

A reply later than the deadline stops the worker (SIGKILL: a timed-out run is abandoned,
as Lambda stops the execution environment) and is answered ``Sandbox.Timedout``; a worker
that exits mid-invocation is answered ``Runtime.ExitError`` (Lambda Developer Guide,
"Troubleshoot invocation issues in Lambda": "Runtime exited with error: signal: killed").
Either way the worker is gone and its pool starts another. A worker acknowledges each
invocation as it takes it; one that dies before that (a crash while idle that
``Popen.poll`` cannot see yet: a killed multi-threaded process is a zombie leader until its
last thread is gone) never ran it, and the reply says so (``never_started``).

>>> exit_error("r-1", -9)["errorMessage"]
'RequestId: r-1 Error: Runtime exited with error: signal: killed'
>>> exit_error("r-1", 1)["errorMessage"]
'RequestId: r-1 Error: Runtime exited with error: exit status 1'
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
TIMED_OUT = "Sandbox.Timedout"
EXIT_ERROR = "Runtime.ExitError"


def exit_error(request_id: str, returncode: int | None) -> dict[str, Any]:
    """The error body of an invocation whose worker exited under it."""
    if returncode is not None and returncode < 0:
        try:
            how = f"signal: {signal.Signals(-returncode).name.removeprefix('SIG').lower()}"
        except ValueError:
            how = f"signal: {-returncode}"
        how = how.replace("signal: kill", "signal: killed")
    else:
        how = f"exit status {returncode}"
    return {"errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {how}",
            "errorType": EXIT_ERROR}


def timeout_error(request_id: str, timeout_s: float) -> dict[str, Any]:
    """The error body of a timed-out invocation (Lambda's wording)."""
    return {"errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                            f"{timeout_s:.2f} seconds",
            "errorType": TIMED_OUT}


@dataclass
class Reply:
    """What one invocation gave: a result JSON text, or an error body; its log lines."""

    result: str | None
    error: dict[str, Any] | None
    logs: list[str]
    duration_ms: float
    max_memory_mb: int | None
    worker_lost: bool = False
    timed_out: bool = False
    # The worker died before it took the invocation (its ``started`` line): the
    # invocation never ran and can go to another worker.
    never_started: bool = False


class WorkerStartError(Exception):
    """The worker process exited or stalled before its runtime was ready."""


@dataclass
class WorkerProcess:
    """A started worker; ``invoke`` one request at a time."""

    process: subprocess.Popen[str]
    log_stream: str
    init_ms: float = 0.0
    init_logs: list[str] = field(default_factory=list)
    invocations: int = 0
    _replies: queue.SimpleQueue[str | None] = field(default_factory=queue.SimpleQueue)

    @classmethod
    def start(cls, *, task_root: Path, environment: Mapping[str, str], log_stream: str,
              ready_timeout_s: float) -> WorkerProcess:
        """Start the interpreter and wait until the handler's module is imported."""
        process = subprocess.Popen(
            [sys.executable, "-I", str(BOOTSTRAP)], cwd=task_root, env=dict(environment),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True,
            encoding="utf-8", bufsize=1, start_new_session=True)
        worker = cls(process, log_stream)
        assert process.stdout is not None
        threading.Thread(target=_read_lines, args=(process.stdout, worker._replies),
                         name=f"lambda-worker-{process.pid}", daemon=True).start()
        try:
            line = worker._replies.get(timeout=ready_timeout_s)
        except queue.Empty:
            worker.kill()
            raise WorkerStartError(f"the runtime did not start within {ready_timeout_s:g} s"
                                   ) from None
        if line is None:
            worker.kill()
            raise WorkerStartError(f"the runtime exited at start (code "
                                   f"{process.returncode})")
        ready = json.loads(line)["ready"]
        worker.init_ms = float(ready["initMs"])
        worker.init_logs = list(ready["logs"])
        return worker

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def pid(self) -> int:
        return self.process.pid

    def invoke(self, *, request_id: str, function_arn: str, payload: str,
               timeout_s: float) -> Reply:
        """Run one invocation; never raises for what the function or its process did."""
        self.invocations += 1
        started = time.monotonic()
        request = json.dumps({"requestId": request_id, "functionArn": function_arn,
                              "payload": payload, "remainingMs": int(timeout_s * 1000)})
        taken = False
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(request + "\n")
            self.process.stdin.flush()
            taken = self._replies.get(timeout=timeout_s) is not None
            line = self._replies.get(timeout=max(0.0, started + timeout_s - time.monotonic())
                                     ) if taken else None
        except queue.Empty:
            self.kill()
            return Reply(None, timeout_error(request_id, timeout_s), [],
                         timeout_s * 1000, None, worker_lost=True, timed_out=True)
        except OSError:  # the pipe broke: the process is gone
            line = None
        elapsed = (time.monotonic() - started) * 1000
        if line is None:
            self.kill()
            return Reply(None, exit_error(request_id, self.process.returncode), [],
                         elapsed, None, worker_lost=True, never_started=not taken)
        reply = json.loads(line)
        return Reply(reply.get("result"), reply.get("error"), list(reply.get("logs", [])),
                     float(reply.get("durationMs", elapsed)), reply.get("maxMemoryMb"))

    def kill(self) -> None:
        """Stop the worker at once (its process group: what it started too)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def stop(self) -> None:
        """Close its stdin (the runtime exits when it reads EOF), then make sure."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


def _read_lines(stream: IO[str], into: queue.SimpleQueue[str | None]) -> None:
    try:
        for line in stream:
            into.put(line)
    except (OSError, ValueError):
        pass
    into.put(None)
