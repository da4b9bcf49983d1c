"""Stopping without losing accepted work: the drain's gate and its report.

A stop (SIGTERM, Ctrl-C) first *drains*: the endpoint stops taking new work and lets
what it already accepted finish for up to a window, then it stops and says what was left.

- New requests are answered **503 with** ``Retry-After``, not refused at the socket.
  That is what AWS clients and load balancers expect of a service that is going away:
  an Elastic Load Balancer stops sending new requests to a draining target and lets
  in-flight ones complete (ELB API Reference, DeregisterTargets: "The load balancer stops
  sending requests to targets that are deregistering, but uses connection draining to
  ensure that in-flight traffic completes"), and answers 503 when no target is left; the
  AWS SDKs retry a 503 (boto3 Developer Guide, "Retries": legacy and standard modes retry
  HTTP 500, 502, 503 and 504). A refused connection would look like "nothing runs here".
- The local cloud's own work still gets through: an accepted order's chain runs through
  Lambda functions that call the endpoint (DynamoDB, PutEvents), and an order API request
  in flight writes its order and publishes. Requests signed with the credentials the local
  cloud handed to its own processes (:meth:`DrainGate.own`) are served to the end; the
  control routes (they need the control secret) too.

>>> gate = DrainGate()
>>> gate.own("ASIA-FUNCTION")
>>> gate.refuses("ASIA-SOMEONE"), gate.start(), gate.refuses("ASIA-SOMEONE")
(False, None, True)
>>> gate.refuses("ASIA-FUNCTION")
False
>>> Leftovers(0, 0).line()
'drained: 0 left'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Seconds a refused client is told to wait: about one restart of `local up`.
RETRY_AFTER_S = 5
UNAVAILABLE_CODE = "ServiceUnavailable"
UNAVAILABLE_MESSAGE = ("the local cloud is stopping (draining accepted work); "
                       f"retry after {RETRY_AFTER_S} s, once it runs again")


class DrainGate:
    """Whether the endpoint still takes new requests, and which callers are its own."""

    def __init__(self) -> None:
        self._draining = threading.Event()
        self._own: set[str] = set()
        self._lock = threading.Lock()

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def start(self) -> None:
        """From now on, new requests of other callers are refused."""
        self._draining.set()

    def own(self, access_key: str) -> None:
        """Credentials of the local cloud's own processes: served during the drain."""
        with self._lock:
            self._own.add(access_key)

    def refuses(self, access_key: str | None) -> bool:
        """Is a request signed with ``access_key`` (None: unsigned) refused now?"""
        if not self._draining.is_set():
            return False
        with self._lock:
            return access_key is None or access_key not in self._own


@dataclass(frozen=True)
class Leftovers:
    """What a drain did not finish: deliveries (queued, or running when the window
    closed) and retries waiting for their time."""

    deliveries: int
    retries: int

    @property
    def empty(self) -> bool:
        return not (self.deliveries or self.retries)

    def line(self, kept_in: str | None = None) -> str:
        """The one line a stop prints.

        >>> print(Leftovers(12, 3).line())  # doctest: +NORMALIZE_WHITESPACE
        stopped with 12 deliveries pending, 3 retries scheduled
        (lost: run with --state-dir to keep them)
        >>> Leftovers(1, 0).line(kept_in="/tmp/s")
        'stopped with 1 delivery pending, 0 retries scheduled (kept in /tmp/s)'
        """
        if self.empty:
            return "drained: 0 left"
        where = (f"kept in {kept_in}" if kept_in is not None
                 else "lost: run with --state-dir to keep them")
        return (f"stopped with {_count(self.deliveries, 'delivery', 'deliveries')} pending, "
                f"{_count(self.retries, 'retry', 'retries')} scheduled ({where})")


def unkept_line(count: int, state_file: str) -> str:
    """The line a stop prints when some work could not be kept in the state file.

    >>> unkept_line(2, "/s/localcloud-state.pickle")
    'not kept in /s/localcloud-state.pickle: 2 pieces of work (a replay in progress is not resumed)'
    """
    return (f"not kept in {state_file}: {_count(count, 'piece', 'pieces')} of work "
            "(a replay in progress is not resumed)")


Backlog = Callable[[], tuple[int, list[float]]]
POLL_S = 0.02


def settled(working: int, dues: list[float], deadline: float) -> bool:
    """Nothing left to wait for: no work queued or running, and no retry due before
    ``deadline`` (a retry due later is a leftover; one due within the window runs).

    >>> settled(0, [5.0], deadline=4.0), settled(0, [3.0], deadline=4.0), settled(1, [], 4.0)
    (True, False, False)
    """
    return working == 0 and all(due > deadline for due in dues)


def wait_drained(backlog: Backlog, seconds: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> Leftovers:
    """Wait up to ``seconds`` until ``backlog`` (``Scheduler.backlog``) is settled; what
    is still there then is left over.

    >>> wait_drained(lambda: (2, [0.0, 99.0]), 0)
    Leftovers(deliveries=2, retries=2)
    """
    deadline = clock() + seconds
    working, dues = backlog()
    while not settled(working, dues, deadline) and clock() < deadline:
        sleep(min(POLL_S, max(0.0, deadline - clock())))
        working, dues = backlog()
    return Leftovers(working, len(dues))


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
