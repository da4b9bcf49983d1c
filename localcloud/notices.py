"""One line per thing that went wrong in the data plane, for a console to show.

A failed delivery, a retry, a dead letter (with its queue's name and the error) and a
denied PutEvents entry (with the reason) each add one line; ``since`` hands a reader
the lines it has not seen. Bounded: the oldest lines go first. Pure apart from a lock.

>>> notices = Notices()
>>> notices.add(dead_letter_line("e1", "Order.Created", "arn:aws:sqs:r:1:my-dlq",
...                              "NO_RESOURCE", "gone"))
>>> notices.since(0)
(1, ['DEAD LETTER e1 Order.Created -> my-dlq: NO_RESOURCE: gone'])
>>> notices.since(1)
(1, [])
"""

from __future__ import annotations

import threading
from collections import deque

MAX_LINES = 1000


class Notices:
    """A bounded, thread-safe log of notice lines, each numbered from 1."""

    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self._lines: deque[tuple[int, str]] = deque(maxlen=max_lines)
        self._count = 0
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        with self._lock:
            self._count += 1
            self._lines.append((self._count, line))

    def since(self, seen: int) -> tuple[int, list[str]]:
        """(the number of the newest line, the lines numbered after ``seen``)."""
        with self._lock:
            return self._count, [line for number, line in self._lines if number > seen]


def _name(arn: str | None) -> str:
    """The last part of an ARN (a queue, bus or function name).

    >>> _name("arn:aws:lambda:r:1:function:f")
    'f'
    """
    if not arn:
        return "?"
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def failed_line(event_id: str, detail_type: str, target_arn: str | None, code: str,
                message: str) -> str:
    """A delivery (or a function's run) that failed."""
    return f"FAILED {event_id} {detail_type} -> {_name(target_arn)}: {code}: {message}"


def retry_line(event_id: str, detail_type: str, target_arn: str | None, attempt: int) -> str:
    """A retry about to be scheduled.

    >>> retry_line("e1", "T", "arn:aws:lambda:r:1:function:f", 2)
    'RETRY e1 T -> f (retry 2)'
    """
    return f"RETRY {event_id} {detail_type} -> {_name(target_arn)} (retry {attempt})"


def dead_letter_line(event_id: str, detail_type: str, queue_arn: str | None, code: str,
                     message: str) -> str:
    """An event sent to a dead-letter queue (or on-failure destination)."""
    return f"DEAD LETTER {event_id} {detail_type} -> {_name(queue_arn)}: {code}: {message}"


def dropped_line(event_id: str, detail_type: str, target_arn: str | None, why: str) -> str:
    """An event given up with no dead-letter queue to keep it (no target: dropped before
    any rule ran, e.g. PutEvents to a bus that does not exist).

    >>> dropped_line("e1", "T", None, "unknown_bus: event bus b does not exist")
    'DROPPED e1 T: unknown_bus: event bus b does not exist'
    """
    target = f" -> {_name(target_arn)}" if target_arn else ""
    return f"DROPPED {event_id} {detail_type}{target}: {why}"


def denied_line(bus: str, source: str, detail_type: str, code: str, message: str) -> str:
    """A PutEvents entry refused.

    >>> denied_line("global-bus", "x", "T", "AccessDeniedException", "no")
    'DENIED PutEvents T from x on global-bus: AccessDeniedException: no'
    """
    return f"DENIED PutEvents {detail_type} from {source} on {bus}: {code}: {message}"
