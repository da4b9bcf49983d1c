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
# What each process of ``local up`` is, from its command line.
ROLES = (("infra_bootstrap.local.worker", "API worker (chalice local)"),
         ("localcloud/runtime/bootstrap.py", "Lambda workers"),
         ("infra_bootstrap local up", "endpoint (local up)"))


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

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far by each role of this process tree,
        read from /proc (Linux; {} elsewhere). A process that has exited is not counted."""
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        used: dict[str, float] = {}
        for pid in _process_tree(self.process.pid):
            try:
                with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline") as cmd:
                    fields = stat.read().rsplit(")", 1)[1].split()
                    command = cmd.read().replace("\0", " ")
            except OSError:
                continue  # gone meanwhile
            role = next((name for mark, name in ROLES if mark in command), "other")
            used[role] = used.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        return used

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


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc ([] where there is no /proc)."""
    children: dict[int, list[int]] = {}
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _drain(stream: IO[str], into: list[str]) -> None:
    for line in stream:
        into.append(line)
