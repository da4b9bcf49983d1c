"""Start and stop ``local up`` as a subprocess for the benchmarks (not a benchmark itself)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalUpProcess:
    """``python -m infra_bootstrap local up`` on free ports; ``ready_s`` is spawn -> ready."""

    def __init__(self, *args: str) -> None:
        self.aws_port, self.api_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["PYTHONUNBUFFERED"] = "1"
        command = [sys.executable, "-m", "infra_bootstrap", "local", "up",
                   "--aws-port", str(self.aws_port), "--api-port", str(self.api_port), *args]
        started = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        self.ready_s = time.perf_counter() - started
        if not line.startswith("ready: "):
            self.stop()
            raise SystemExit(f"local up did not get ready: {line!r}")
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.aws = f"http://127.0.0.1:{self.aws_port}"

    def stop(self) -> str:
        """SIGTERM, wait, and return what it printed on stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=30)
        return err
