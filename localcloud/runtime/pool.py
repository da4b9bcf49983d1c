"""A small pool of worker processes per function version (its execution environments).

An invocation takes an idle worker, or starts one while fewer than ``size`` run, or waits
for one to come back; a worker that timed out or died is not returned (the next
invocation starts a fresh one, as Lambda replaces a failed execution environment).
Generic over what a worker is, so it is tested without processes.

>>> started = []
>>> pool = Pool(lambda: started.append(len(started)) or f"w{len(started)}", size=2)
>>> first = pool.acquire(1)
>>> pool.release(first, healthy=True)
>>> pool.acquire(1), started            # the idle one again: no second start
('w1', [0])
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

W = TypeVar("W")


class PoolExhausted(Exception):
    """No worker became free in time."""


class Pool(Generic[W]):
    """At most ``size`` workers made by ``start``; idle ones reused, newest first."""

    def __init__(self, start: Callable[[], W], *, size: int,
                 stop: Callable[[W], None] | None = None) -> None:
        self._start = start
        self._stop = stop or (lambda _worker: None)
        self.size = size
        self._idle: list[W] = []
        self._running = 0  # started and not yet discarded (idle or busy)
        self._cond = threading.Condition()
        self._closed = False

    @property
    def running(self) -> int:
        return self._running

    def acquire(self, timeout_s: float) -> W:
        """An idle worker, a new one, or the first one back within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                if self._closed:
                    raise PoolExhausted("the pool is closed")
                if self._idle:
                    return self._idle.pop()
                if self._running < self.size:
                    self._running += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PoolExhausted(f"all {self.size} workers stayed busy")
                self._cond.wait(remaining)
        try:
            return self._start()
        except BaseException:
            self.discard()
            raise

    def release(self, worker: W, *, healthy: bool) -> None:
        """Give a worker back; an unhealthy one is stopped and its place freed."""
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(worker)
                self._cond.notify()
                return
        self._stop(worker)
        self.discard()

    def discard(self) -> None:
        """Free the place of a worker that is gone."""
        with self._cond:
            self._running -= 1
            self._cond.notify()

    def close(self) -> None:
        """Stop idle workers now; busy ones stop when released."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._running -= len(idle)
            self._cond.notify_all()
        for worker in idle:
            self._stop(worker)
