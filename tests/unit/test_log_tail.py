"""LogTail: a follower returns each log event once and asks only for what can be new."""

from __future__ import annotations

import json
from typing import Any

from infra_bootstrap.operate.logs import FOLLOW_OVERLAP_MS, LogTail


class _Logs:
    """FilterLogEvents over an in-memory log group: startTime/endTime on the timestamp,
    as CloudWatch Logs filters; remembers every startTime it was asked for."""

    class exceptions:
        class ResourceNotFoundException(Exception):
            pass

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.asked: list[int] = []

    def log(self, event_id: str, timestamp: int, ingestion: int | None = None) -> None:
        message = json.dumps({"id": event_id, "detail-type": "T", "source": "s",
                              "account": "1", "detail": {}})
        self.events.append({"logStreamName": "s", "eventId": event_id, "timestamp": timestamp,
                            "ingestionTime": timestamp if ingestion is None else ingestion,
                            "message": message})

    def get_paginator(self, _name: str) -> _Logs:
        return self

    def paginate(self, logGroupName: str, startTime: int,
                 endTime: int | None = None) -> list[dict[str, Any]]:
        self.asked.append(startTime)
        return [{"events": [e for e in self.events if e["timestamp"] >= startTime
                            and (endTime is None or e["timestamp"] <= endTime)]}]


def _ids(tail: LogTail) -> list[str]:
    return [event.event["id"] for event in tail.poll()]


def test_each_event_is_returned_once_across_polls() -> None:
    logs = _Logs()
    tail = LogTail(logs, "global-bus", "1")
    logs.log("a", 10_000)
    logs.log("b", 10_000)

    assert _ids(tail) == ["a", "b"]
    logs.log("c", 10_000)          # same millisecond as the ones already seen
    assert _ids(tail) == ["c"]
    assert _ids(tail) == []


def test_a_later_poll_starts_shortly_before_the_newest_event_not_at_the_beginning() -> None:
    logs = _Logs()
    tail = LogTail(logs, "global-bus", "1", start_ms=0)
    for n in range(100):
        logs.log(f"e{n}", 1_000_000 + n * 100)

    tail.poll()
    tail.poll()

    assert logs.asked == [0, 1_000_000 + 99 * 100 - FOLLOW_OVERLAP_MS]


def test_an_event_that_arrives_within_the_overlap_with_an_older_timestamp_is_not_missed(
        ) -> None:
    logs = _Logs()
    tail = LogTail(logs, "global-bus", "1")
    logs.log("new", 50_000)
    assert _ids(tail) == ["new"]

    logs.log("late", 50_000 - FOLLOW_OVERLAP_MS // 2, ingestion=50_100)

    assert _ids(tail) == ["late"]


def test_the_overlap_grows_with_the_ingestion_lag_the_log_has_shown() -> None:
    logs = _Logs()
    tail = LogTail(logs, "global-bus", "1")
    logs.log("slow", 100_000, ingestion=105_000)   # logged 5 s after its timestamp
    tail.poll()
    logs.log("next", 110_000)
    tail.poll()
    tail.poll()

    assert logs.asked[-1] == 110_000 - FOLLOW_OVERLAP_MS - 5_000
