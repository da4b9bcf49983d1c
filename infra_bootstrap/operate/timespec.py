"""``--since 15m`` / ``--since 2026-01-01T12:00:00Z``: a point in time, in epoch ms. Pure.

>>> parse_time("15m", now_ms=1_000_000_000)
999100000
>>> parse_time("2026-01-01T00:00:00Z", now_ms=0)
1767225600000
>>> parse_time("soon", now_ms=0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
infra_bootstrap.errors.UsageError: 'soon' is neither a duration (30s, 15m, 2h, 7d) nor ...
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from infra_bootstrap.errors import UsageError

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_time(text: str, now_ms: int) -> int:
    """Epoch milliseconds of a duration back from ``now_ms`` or of an ISO 8601 time.

    A time without a zone is UTC.
    """
    text = text.strip()
    match = _DURATION.match(text)
    if match:
        return now_ms - int(match.group(1)) * _UNIT_MS[match.group(2)]
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{text!r} is neither a duration (30s, 15m, 2h, 7d) nor an ISO 8601 "
                         "time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds.

    >>> iso_ms(1767225600123)
    '2026-01-01T00:00:00.123Z'
    """
    when = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clock_ms(epoch_ms: int) -> str:
    """The time of day (UTC) with milliseconds, for one-line output.

    >>> clock_ms(1767225600123)
    '00:00:00.123'
    """
    return iso_ms(epoch_ms)[11:23]
