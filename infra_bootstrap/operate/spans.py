"""The spans of a traced chain: which trace ids its events carry, and the spans as a tree.

Each published event carries its hop's W3C ``traceparent`` in ``detail.meta`` (see
``backbone.tracing``); the services export their spans with OpenTelemetry, locally as OTLP
JSON lines in ``BACKBONE_TRACES_FILE`` (``backbone.trace_file``). ``events trace --spans``
joins the two: the chain's trace ids come from its events, the timings from the spans.

>>> from backbone.trace_file import SpanRecord
>>> t = "5f5e1000" + "a" * 24
>>> spans = [SpanRecord(t, "1" * 16, None, "POST /orders", "server", 0, 4_000_000, "order-service"),
...          SpanRecord(t, "2" * 16, "1" * 16, "on_order_created", "consumer", 6_000_000,
...                     9_500_000, "delivery-service")]
>>> for line in render(spans): print(line)
  +0.0 ms     4.0 ms  POST /orders (order-service, server)
    +6.0 ms     3.5 ms  └─ on_order_created (delivery-service, consumer)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from backbone.trace_file import SpanRecord
from backbone.tracing import TRACEPARENT, parse_traceparent


def trace_ids(events: Iterable[Any]) -> list[str]:
    """The trace ids the events' ``detail.meta.traceparent`` name, in first-seen order."""
    found: dict[str, None] = {}
    for logged in events:
        detail = logged.event.get("detail")
        meta = detail.get("meta") if isinstance(detail, dict) else None
        value = meta.get(TRACEPARENT) if isinstance(meta, dict) else None
        parent = parse_traceparent(value) if isinstance(value, str) else None
        if parent is not None:
            found.setdefault(parent.trace_id)
    return list(found)


def render(spans: Sequence[SpanRecord]) -> list[str]:
    """The spans as a tree by parent span id, each with its start (from the first span's)
    and its duration; a span whose parent is not among them is a root."""
    if not spans:
        return []
    origin = min(s.start_ns for s in spans)
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanRecord]] = {}
    for span in sorted(spans, key=lambda s: s.start_ns):
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(span)
    out: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in children.get(parent, []):
            start_ms = (span.start_ns - origin) / 1_000_000
            out.append(f"{'  ' * depth}  {start_ms:+.1f} ms {span.duration_ms:>7.1f} ms  "
                       f"{'└─ ' if depth else ''}{span.name} ({span.service}, {span.kind})")
            walk(span.span_id, depth + 1)

    walk(None, 0)
    return out
