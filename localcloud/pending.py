"""The data plane's work not done at a stop, as plain data a state file can keep.

Three kinds of work can wait in the scheduler (:class:`~localcloud.scheduling.Tagged`):
``route`` (an accepted event to route on a bus: ``(BusRef, RoutedEvent)``), ``deliver``
(an EventBridge retry of a :class:`~localcloud.delivery.Delivery`) and ``invoke`` (an
asynchronous Lambda attempt of an :class:`~localcloud.lambda_async.Invocation`). A stop
keeps each with the local seconds until it was due; a start runs them again
(``Router.resume``). Work of another kind (a replay in progress) is counted, not kept.

A Lambda attempt that was *running* when the stop came was stopped with it: it runs
again once its function's timeout has passed, as Lambda retries a stopped run
(``lambda_async.retry_wait_s``): a handler may hold a lease for its run's remaining time,
which the stopped run never released.

Ages run on while the local cloud is stopped? No: an event's age (RetryPolicy's
``MaximumEventAgeInSeconds``, Lambda's maximum event age) counts the time it spent in a
running local cloud only, as if the stop had paused it; ``shift`` moves the monotonic
start times saved by the stopped process into this process's clock accordingly.

>>> from localcloud.scheduling import Tagged
>>> kept, unkept = from_snapshot([(Tagged("route", "x", lambda: None), 0.0, False),
...                               (lambda: None, 1.0, False)])
>>> kept, unkept
([PendingWork(kind='route', item='x', delay_s=0.0)], 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from localcloud.scheduling import Tagged

KINDS = ("route", "deliver", "invoke")


@dataclass
class PendingWork:
    """One piece of work a stop kept: its kind, its data, local seconds until due."""

    kind: str
    item: Any
    delay_s: float


def from_snapshot(snapshot: Iterable[tuple[Callable[[], None], float, bool]]
                  ) -> tuple[list[PendingWork], int]:
    """The work of ``Scheduler.snapshot`` that can be kept, and how many pieces cannot."""
    kept: list[PendingWork] = []
    unkept = 0
    for work, delay, running in snapshot:
        if not isinstance(work, Tagged) or work.kind not in KINDS:
            unkept += 1
            continue
        if running and work.kind == "invoke":
            delay = max(delay, float(getattr(work.item, "timeout_s", 0.0)))
        kept.append(PendingWork(work.kind, work.item, delay))
    return kept, unkept


def shift(work: PendingWork, seconds: float) -> None:
    """Move the monotonic start times of ``work`` by ``seconds`` (see the module doc).

    >>> from localcloud.delivery import Delivery
    >>> delivery = Delivery(None, "rule", "1", {}, started=10.0)  # type: ignore[arg-type]
    >>> shift(PendingWork("deliver", delivery, 0.0), 5.0); delivery.started
    15.0
    """
    if work.kind == "deliver":
        work.item.started += seconds
    elif work.kind == "invoke":
        work.item.accepted += seconds
        if work.item.delivery is not None:
            work.item.delivery.started += seconds
