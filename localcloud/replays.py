"""Replays through our router, with EventBridge's semantics.

moto keeps the replay as a control-plane object (StartReplay's validation, DescribeReplay,
ListReplays, CancelReplay stay moto's); running it is ours: ``install`` puts
``Replays.run`` in place of moto's ``Replay.replay_events``, which re-created envelopes
(new ids), ignored the time window and ``FilterArns``, and re-archived the events.

What a replay does, per the EventBridge User Guide, "Replaying archived events"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-replay-archived-event.html)
and the API reference (StartReplay, ReplayDestination):

- only the archived events whose time is inside ``[EventStartTime, EventEndTime)``;
- only to the rules named in ``Destination.FilterArns`` (every rule of the bus if none);
- each replayed event carries a ``replay-name`` field naming the replay; the rest of the
  envelope is the archived one, id included;
- rule state, bus and target policies apply as for any delivery (our router);
- replayed events are not archived again (archive rules get no replayed event).

>>> in_window({"time": "2026-01-01T00:00:05Z"}, 1767225600.0, 1767225610.0)
True
>>> in_window({"time": "2026-01-01T00:00:10Z"}, 1767225600.0, 1767225610.0)
False
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

REPLAY_NAME_FIELD = "replay-name"


@dataclass(frozen=True)
class ReplayJob:
    """One replay to run: which events, to which bus, through which rules."""

    name: str
    bus_arn: str
    filter_arns: frozenset[str]
    events: tuple[Mapping[str, Any], ...]


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def in_window(envelope: Mapping[str, Any], start: Any, end: Any) -> bool:
    """Is the event's time inside ``[start, end)`` (epoch seconds or ISO 8601)?"""
    when, low, high = _epoch(envelope.get("time")), _epoch(start), _epoch(end)
    if when is None or low is None or high is None:
        return False
    return low <= when < high


def replayed(envelope: Mapping[str, Any], replay_name: str) -> tuple[dict[str, Any], str]:
    """The envelope as the replay delivers it, and its JSON: the archived one plus
    ``replay-name``.

    >>> replayed({"id": "e1", "time": "t"}, "r1")[1]
    '{"id":"e1","time":"t","replay-name":"r1"}'
    """
    out = {**dict(envelope), REPLAY_NAME_FIELD: replay_name}
    return out, json.dumps(out, separators=(",", ":"))


def job_of(replay: Any, archive: Any) -> ReplayJob:
    """A moto Replay and Archive as a ReplayJob: the window's events only."""
    destination = replay.destination or {}
    return ReplayJob(
        name=replay.name, bus_arn=str(destination.get("Arn", "")),
        filter_arns=frozenset(destination.get("FilterArns") or ()),
        events=tuple(e for e in list(archive.events)
                     if in_window(e, replay.event_start_time, replay.event_end_time)))


Runner = Callable[[ReplayJob, Callable[[], None]], None]
_runner: list[Runner] = []


def install(runner: Runner) -> None:
    """Run every replay of this process with ``runner(job, done)``: moto's own replay
    code is replaced (one endpoint per process; the latest runner wins)."""
    from moto.core.utils import unix_time
    from moto.events.models import Replay, ReplayState

    _runner[:] = [runner]

    def replay_events(self: Any, archive: Any) -> None:
        self.state = ReplayState.RUNNING

        def done() -> None:
            if self.state == ReplayState.RUNNING:
                self.state = ReplayState.COMPLETED
            self.end_time = unix_time()

        _runner[0](job_of(self, archive), done)

    Replay.replay_events = replay_events  # type: ignore[method-assign]
