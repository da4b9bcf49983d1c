"""Reading the stage's bus logs: every bus's catch-all log group, in its own account.

Each bus of the stage logs every event to ``/aws/events/backbone/<bus>`` in the bus's
account (``desired.py``); this module reads them with FilterLogEvents (paginated) through
the topology's sessions, exactly as on AWS, and merges them in time order.

>>> from infra_bootstrap.topology import load_stage
>>> bus_logs(load_stage("local"))[0]
('global-bus', '111111111111')
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import botocore.exceptions

from infra_bootstrap import names
from infra_bootstrap.errors import AwsCallError, UsageError
from infra_bootstrap.operate.records import LoggedEvent, parse_log_event
from infra_bootstrap.topology import Stage


class ClientSource(Protocol):
    """What reading needs of ``AccountSessions``: a client per account and service."""

    def client(self, account: str, service: str) -> Any: ...


def bus_logs(stage: Stage) -> list[tuple[str, str]]:
    """``(bus, account)`` of every bus with a catch-all log: global first, then local."""
    return [(names.GLOBAL_BUS, stage.bus_account)] + [
        (names.local_bus(s.name), s.account) for s in stage.services]


def chosen_buses(stage: Stage, wanted: Sequence[str]) -> list[tuple[str, str]]:
    """The stage's buses named in ``wanted`` (all of them when empty); UsageError names an
    unknown one.

    >>> from infra_bootstrap.topology import load_stage
    >>> chosen_buses(load_stage("local"), ["global-bus"])
    [('global-bus', '111111111111')]
    >>> chosen_buses(load_stage("local"), ["nope"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    infra_bootstrap.errors.UsageError: --bus nope: not a bus of stage local (global-bus, ...)
    """
    every = bus_logs(stage)
    known = {bus for bus, _ in every}
    for bus in wanted:
        if bus not in known:
            raise UsageError(f"--bus {bus}: not a bus of stage {stage.name} "
                             f"({', '.join(b for b, _ in every)})")
    return [(bus, account) for bus, account in every if not wanted or bus in wanted]


# A poll after the first asks only for log events stamped at most this long before the
# newest one it has seen, plus the longest ingestion lag (ingestionTime - timestamp) seen:
# events reach a log roughly in timestamp order, and re-reading the whole log group every
# poll made a follower cost more the longer it ran. An event ingested later than that
# after its own timestamp is missed by a running tail, as by `aws logs tail --follow`
# (which asks from the newest timestamp it has seen).
FOLLOW_OVERLAP_MS = 1000


class LogTail:
    """Reads a bus's catch-all log group, returning each log event once.

    ``poll`` asks FilterLogEvents for everything since ``start_ms`` (and up to
    ``end_ms``), every page, and keeps the ids it has returned, so polling again returns
    only what is new; each later poll starts shortly before the newest event seen
    (FOLLOW_OVERLAP_MS). A log group that does not exist (yet) holds nothing.
    """

    def __init__(self, logs: Any, bus: str, account: str, start_ms: int = 0,
                 end_ms: int | None = None) -> None:
        self._logs = logs
        self.bus = bus
        self.account = account
        self.log_group = names.event_log_group(bus)
        self._start_ms = start_ms
        self._end_ms = end_ms
        self._seen: dict[tuple[str, str], int] = {}   # (stream, event id) -> timestamp
        self._newest_ms = start_ms
        self._lag_ms = 0

    def poll(self) -> list[LoggedEvent]:
        """New log events since the last poll, oldest first."""
        fresh: list[LoggedEvent] = []
        window: dict[str, Any] = {"logGroupName": self.log_group, "startTime": self._start_ms}
        if self._end_ms is not None:
            window["endTime"] = self._end_ms
        try:
            for page in self._logs.get_paginator("filter_log_events").paginate(**window):
                for item in page.get("events", []):
                    key = (item.get("logStreamName", ""), item["eventId"])
                    if key in self._seen:
                        continue
                    stamp = int(item.get("timestamp") or 0)
                    self._seen[key] = stamp
                    self._newest_ms = max(self._newest_ms, stamp)
                    self._lag_ms = max(self._lag_ms,
                                       int(item.get("ingestionTime") or stamp) - stamp)
                    fresh.append(self._parse(item))
        except self._logs.exceptions.ResourceNotFoundException:
            return []
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise AwsCallError(self.account, "logs:FilterLogEvents", self.log_group,
                               " ".join(str(exc).split())) from None
        self._advance()
        return sorted(fresh, key=lambda e: e.ingestion_ms)

    def _advance(self) -> None:
        """Start the next poll shortly before the newest event; forget older ids."""
        start = self._newest_ms - FOLLOW_OVERLAP_MS - self._lag_ms
        if start <= self._start_ms:
            return
        self._start_ms = start
        self._seen = {key: stamp for key, stamp in self._seen.items() if stamp >= start}

    def _parse(self, item: Mapping[str, Any]) -> LoggedEvent:
        return parse_log_event(self.bus, self.account, item)


def tails(stage: Stage, sessions: ClientSource, buses: Sequence[tuple[str, str]],
          start_ms: int, end_ms: int | None = None) -> list[LogTail]:
    """One LogTail per bus, each with its account's Logs client."""
    return [LogTail(sessions.client(account, "logs"), bus, account, start_ms, end_ms)
            for bus, account in buses]


def merged(batches: Iterable[Sequence[LoggedEvent]]) -> list[LoggedEvent]:
    """Several time-ordered batches as one, in time order (ties: by bus name).

    >>> a = LoggedEvent("b1", "1", {}, 5, "x", "")
    >>> b = LoggedEvent("b2", "1", {}, 3, "y", "")
    >>> [e.bus for e in merged([[a], [b]])]
    ['b2', 'b1']
    """
    ordered = [sorted(batch, key=lambda e: (e.ingestion_ms, e.bus)) for batch in batches]
    return list(heapq.merge(*ordered, key=lambda e: (e.ingestion_ms, e.bus)))


def read_all(log_tails: Sequence[LogTail]) -> list[LoggedEvent]:
    """Everything new in every tail, merged in time order."""
    return merged(tail.poll() for tail in log_tails)
