"""The lines Lambda writes to a function's log stream around each invocation. Pure.

Lambda Developer Guide, "Working with Lambda function logs" / "Using CloudWatch Logs with
Lambda": ``START RequestId: <id> Version: <v>``, the function's output, ``END RequestId:
<id>``, then ``REPORT RequestId: <id>\\tDuration: ... ms\\tBilled Duration: ... ms\\tMemory
Size: ... MB\\tMax Memory Used: ... MB`` (with ``Init Duration`` after a cold start); a
timeout adds ``Task timed out after N seconds``.

>>> lines = invocation_log("r-1", "$LATEST", ["hello"], duration_ms=12.345, memory_mb=128,
...                        max_memory_mb=40, init_ms=210.0, timed_out_after=None)
>>> lines[0], lines[1], lines[2]
('START RequestId: r-1 Version: $LATEST', 'hello', 'END RequestId: r-1')
>>> lines[3].split("\\t")[:3]
['REPORT RequestId: r-1', 'Duration: 12.35 ms', 'Billed Duration: 13 ms']
>>> lines[3].split("\\t")[3:]
['Memory Size: 128 MB', 'Max Memory Used: 40 MB', 'Init Duration: 210.00 ms']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

# Lambda's Invoke API returns at most the last 4 KB of the log with LogType=Tail
# (Lambda API Reference, Invoke: "LogResult ... the last 4 KB of the execution log").
TAIL_BYTES = 4096


def timed_out_line(request_id: str, timeout_s: float, now: datetime | None = None) -> str:
    """The line Lambda writes when an invocation timed out.

    >>> timed_out_line("r", 3, datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC))
    '2024-01-02T03:04:05.678Z r Task timed out after 3.00 seconds'
    """
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    return f"{stamp} {request_id} Task timed out after {timeout_s:.2f} seconds"


def invocation_log(request_id: str, version: str, output: Sequence[str], *,
                   duration_ms: float, memory_mb: int, max_memory_mb: int | None,
                   init_ms: float | None, timed_out_after: float | None) -> list[str]:
    """Every line of one invocation, in order."""
    lines = [f"START RequestId: {request_id} Version: {version}", *output]
    if timed_out_after is not None:
        lines.append(timed_out_line(request_id, timed_out_after))
    lines.append(f"END RequestId: {request_id}")
    report = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
              f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\t"
              f"Memory Size: {memory_mb} MB")
    if max_memory_mb is not None:
        report += f"\tMax Memory Used: {max_memory_mb} MB"
    if init_ms is not None:
        report += f"\tInit Duration: {init_ms:.2f} ms"
    lines.append(report)
    return lines


def tail(lines: Sequence[str]) -> str:
    """The last 4 KB of the log, as ``X-Amz-Log-Result`` carries it (before base64).

    >>> len(tail(["x" * 5000]).encode())
    4096
    """
    data = "\n".join(lines).encode("utf-8", "replace") + b"\n"
    return data[-TAIL_BYTES:].decode("utf-8", "ignore")
