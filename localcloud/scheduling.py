"""When the data plane's work runs: one routing thread, a thread pool, and timers.

Routing and in-memory deliveries run on one thread, in order within a lane (one lane
per account whose bus the event is on) and round-robin across lanes, so one account's
backlog never makes another account's events wait behind it; Lambda invocations run on a
pool, so a slow function never blocks routing; retries wait on a timer thread, their
delays given in AWS seconds and scaled to local time. Every piece of work is counted from
the moment it is queued until it finished, so ``wait_idle`` knows when nothing is left.

>>> done = []
>>> scheduler = Scheduler(time_scale=1 / 1000, pool_size=2)
>>> scheduler.enqueue(lambda: done.append("routed"))
>>> scheduler.later(60, lambda: done.append("retried"), on_pool=True)   # 60 ms here
>>> scheduler.wait_idle(10), done
(True, ['routed', 'retried'])
>>> scheduler.stop()
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

Work = Callable[[], None]
# How long a snapshot waits for the routing and timer threads to put down their work.
THREAD_JOIN_S = 5.0


class Tagged:
    """Work that says what it is (``kind``, ``item``: plain data), so a stop can keep
    it (``Scheduler.snapshot``) and a start can run it again (``localcloud.pending``).

    >>> work = Tagged("route", ("bus", "event"), lambda: None)
    >>> work.kind, work.item, work()
    ('route', ('bus', 'event'), None)
    """

    __slots__ = ("item", "kind", "run")

    def __init__(self, kind: str, item: object, run: Work) -> None:
        self.kind = kind
        self.item = item
        self.run = run

    def __call__(self) -> None:
        self.run()


class Scheduler:
    """The routing thread, the pool and the timers of one data plane."""

    def __init__(self, *, time_scale: float, pool_size: int) -> None:
        self.time_scale = time_scale
        # Routing lanes: the work of each lane in order, and the lanes with work in turn.
        self._lanes: dict[str, deque[Work]] = {}
        self._turns: deque[str] = deque()
        self._work_ready = threading.Condition()
        self._pending = 0
        self._idle = threading.Condition()
        self._timers: list[tuple[float, int, Work, bool]] = []
        self._timer_seq = itertools.count()
        self._timer_wake = threading.Condition()
        self._pool = ThreadPoolExecutor(pool_size, thread_name_prefix="local-lambda")
        # Pool work submitted and not finished (queued or running), for a snapshot.
        self._on_pool: dict[int, Work] = {}
        self._running: set[int] = set()
        self._pool_seq = itertools.count()
        self._stopping = False
        self._threads = [threading.Thread(target=self._route_loop, name="local-router",
                                          daemon=True),
                         threading.Thread(target=self._timer_loop, name="local-router-timers",
                                          daemon=True)]
        for thread in self._threads:
            thread.start()

    # -- what callers use -------------------------------------------------------------

    def enqueue(self, work: Work, lane: str = "") -> None:
        """Run ``work`` on the routing thread, after everything queued before it in its
        lane; lanes take turns, one piece of work each."""
        self._acquire()
        with self._work_ready:
            waiting = self._lanes.get(lane)
            if waiting is None:
                waiting = self._lanes[lane] = deque()
                self._turns.append(lane)
            waiting.append(work)
            self._work_ready.notify()

    def submit(self, work: Work) -> None:
        """Run ``work`` on the pool (nothing runs once the scheduler is stopped)."""
        self._acquire()
        token = next(self._pool_seq)
        self._on_pool[token] = work

        def run() -> None:
            self._running.add(token)
            try:
                work()
            except Exception:
                log.exception("lambda delivery crashed")
            finally:
                self._on_pool.pop(token, None)
                self._running.discard(token)
                self._release()
        try:
            self._pool.submit(run)
        except RuntimeError:  # pool shut down: kept for a snapshot, never run here
            self._release()

    def later(self, delay_aws_s: float, work: Work, *, on_pool: bool) -> None:
        """Run ``work`` after an AWS-time delay, scaled to local time, on the pool or the
        routing thread."""
        self._acquire()
        due = time.monotonic() + delay_aws_s * self.time_scale
        with self._timer_wake:
            heapq.heappush(self._timers, (due, next(self._timer_seq), work, on_pool))
            self._timer_wake.notify()

    def age(self, started: float) -> float:
        """Seconds since ``started`` (a ``time.monotonic()``) in AWS time."""
        return (time.monotonic() - started) / self.time_scale

    @property
    def pending(self) -> int:
        """Work queued, running or waiting for its timer."""
        return self._pending

    def backlog(self) -> tuple[int, list[float]]:
        """(work queued or running, the due times of the timers still waiting) - what a
        drain waits for; due times are ``time.monotonic()`` values."""
        with self._timer_wake:
            dues = [timer[0] for timer in self._timers]
        return max(0, self._pending - len(dues)), dues

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no work is queued, running or waiting for a timer."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def stop(self) -> None:
        """Stop the threads; work still queued or waiting never runs."""
        self._stopping = True
        with self._work_ready:
            self._work_ready.notify_all()
        with self._timer_wake:
            self._timer_wake.notify()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def snapshot(self) -> list[tuple[Work, float, bool]]:
        """Once stopped: every piece of work not done, with the local seconds until it
        was due (0: due now) and whether it was running - queued in a lane, on the pool
        (queued, or running when the stop came), or waiting for its timer. The routing
        thread finishes the work it holds first (what it hands on is then in it)."""
        for thread in self._threads:
            thread.join(THREAD_JOIN_S)
        now = time.monotonic()
        with self._work_ready:
            queued = [work for lane in self._lanes.values() for work in lane]
        with self._timer_wake:
            timers = [(work, max(0.0, due - now), False)
                      for due, _, work, _ in sorted(self._timers)]
        running = set(self._running)
        return ([(work, 0.0, False) for work in queued]
                + [(work, 0.0, token in running)
                   for token, work in list(self._on_pool.items())] + timers)

    def join(self, timeout: float) -> bool:
        """Once stopped: wait up to ``timeout`` for the pool's running work to return."""
        done = threading.Thread(target=self._pool.shutdown, kwargs={"wait": True},
                                daemon=True)
        done.start()
        done.join(timeout)
        return not done.is_alive()

    # -- accounting and threads ---------------------------------------------------------

    def _acquire(self) -> None:
        with self._idle:
            self._pending += 1

    def _release(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def _next_work(self) -> Work | None:
        """The next lane's oldest work (None once stopping); the lane goes to the back."""
        with self._work_ready:
            while not self._turns and not self._stopping:
                self._work_ready.wait()
            if self._stopping:
                return None
            lane = self._turns.popleft()
            waiting = self._lanes[lane]
            work = waiting.popleft()
            if waiting:
                self._turns.append(lane)
            else:
                del self._lanes[lane]
            return work

    def _route_loop(self) -> None:
        while True:
            work = self._next_work()
            if work is None:
                return
            try:
                work()
            except Exception:
                log.exception("routing crashed")
            finally:
                self._release()

    def _timer_loop(self) -> None:
        while not self._stopping:
            with self._timer_wake:
                while not self._stopping and (
                        not self._timers or self._timers[0][0] > time.monotonic()):
                    wait = self._timers[0][0] - time.monotonic() if self._timers else None
                    self._timer_wake.wait(wait)
                if self._stopping:
                    return
                _, _, work, on_pool = heapq.heappop(self._timers)
            # The timer's own hold is handed over to the queue or pool, then released.
            if on_pool:
                self.submit(work)
            else:
                self.enqueue(work)
            self._release()
