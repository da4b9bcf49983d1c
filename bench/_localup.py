"""Start and stop ``local up`` as a subprocess for the benchmarks (not a benchmark itself)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent
# The benchmarks run as scripts (``python bench/x.py``): importing this module makes the
# repository's packages importable to them, as bench_patterns.py does for itself.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
READY = re.compile(r"ready: api=(http://127\.0\.0\.1:\d+) aws=(http://127\.0\.0\.1:\d+)")


class LocalUpProcess:
    """``python -m infra_bootstrap local up`` on ports it picks (``--*-port 0``).

    ``ready_s`` is spawn -> ready line; ``api`` and ``aws`` are the URLs that line names.
    Its output is read as it comes (a full pipe would stall it mid-benchmark); ``stop``
    returns what it printed on stderr.
    """

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["PYTHONUNBUFFERED"] = "1"
        command = [sys.executable, "-m", "infra_bootstrap", "local", "up",
                   "--aws-port", "0", "--api-port", "0", *args]
        started = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.process.stdout is not None and self.process.stderr is not None
        line = self.process.stdout.readline().rstrip("\n")
        self.ready_s = time.perf_counter() - started
        self._stderr: list[str] = []
        self._readers = [threading.Thread(target=_drain, args=(self.process.stdout, []),
                                          daemon=True),
                         threading.Thread(target=_drain, args=(self.process.stderr,
                                                               self._stderr), daemon=True)]
        for reader in self._readers:
            reader.start()
        ready = READY.fullmatch(line)
        if ready is None:
            err = self.stop()
            raise SystemExit(f"local up did not get ready: {line!r}\n{err}")
        self.api, self.aws = ready.groups()

    def stop(self) -> str:
        """SIGTERM, wait, and return what it printed on stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        return "".join(self._stderr)


def _drain(stream: IO[str], into: list[str]) -> None:
    for line in stream:
        into.append(line)
