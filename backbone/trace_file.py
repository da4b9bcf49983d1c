"""Spans as OTLP JSON lines in a file: the local trace store, written and read here only.

The format is OpenTelemetry's "OTLP File Exporter" one: one JSON object per line, an
``ExportTraceServiceRequest`` in OTLP's JSON encoding (ids as lowercase hex, times as
decimal strings of Unix nanoseconds; https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
Several processes (one per service) append to one file; each line is one ``write``.

>>> line = otlp_json_line("order-service", [SpanRecord("5f5e1000" + "a" * 24, "b" * 16,
...     None, "POST /orders", "server", 1_000_000, 3_000_000, "order-service")])
>>> [(s.name, s.duration_ms) for s in parse_lines([line])]
[('POST /orders', 2.0)]
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# OTLP's SpanKind enum: SPAN_KIND_INTERNAL = 1 ... SPAN_KIND_CONSUMER = 5.
KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_write_lock = threading.Lock()


@dataclass(frozen=True)
class SpanRecord:
    """One finished span, as the trace file stores it."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    service: str
    attributes: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1_000_000


def otlp_json_line(service: str, spans: Sequence[SpanRecord]) -> str:
    """One line of the file: the spans of one service as an ExportTraceServiceRequest."""
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [_attribute("service.name", service)]},
        "scopeSpans": [{"scope": {"name": "backbone"}, "spans": [{
            "traceId": s.trace_id, "spanId": s.span_id,
            **({"parentSpanId": s.parent_span_id} if s.parent_span_id else {}),
            "name": s.name, "kind": KINDS.index(s.kind),
            "startTimeUnixNano": str(s.start_ns), "endTimeUnixNano": str(s.end_ns),
            "attributes": [_attribute(k, v) for k, v in s.attributes.items()],
        } for s in spans]}],
    }]}, separators=(",", ":"))


def _attribute(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": str(value)}}


def parse_lines(lines: Iterable[str]) -> list[SpanRecord]:
    """Every span of the file's lines, in file order (blank or torn lines are skipped)."""
    found: list[SpanRecord] = []
    for line in lines:
        try:
            request = json.loads(line)
        except ValueError:
            continue
        for resource_spans in request.get("resourceSpans", []):
            attrs = _attributes(resource_spans.get("resource", {}).get("attributes", []))
            service = attrs.get("service.name", "")
            for scope in resource_spans.get("scopeSpans", []):
                for s in scope.get("spans", []):
                    kind = s.get("kind", 0)
                    found.append(SpanRecord(
                        s["traceId"], s["spanId"], s.get("parentSpanId") or None, s["name"],
                        KINDS[kind] if isinstance(kind, int) and kind < len(KINDS)
                        else "unspecified",
                        int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"]), service,
                        _attributes(s.get("attributes", []))))
    return found


def _attributes(raw: Iterable[dict[str, Any]]) -> dict[str, str]:
    return {a["key"]: str(next(iter(a.get("value", {}).values()), "")) for a in raw}


def read_spans(path: str | Path, trace_id: str | None = None) -> list[SpanRecord]:
    """The spans of a trace file (of one trace when ``trace_id`` is given), by start."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    spans = [s for s in parse_lines(text.splitlines())
             if trace_id is None or s.trace_id == trace_id]
    return sorted(spans, key=lambda s: s.start_ns)


def append_spans(path: str | Path, spans: Sequence[SpanRecord]) -> None:
    """Append spans to the file, one line per service, in one ``write`` (O_APPEND)."""
    by_service: dict[str, list[SpanRecord]] = {}
    for span in spans:
        by_service.setdefault(span.service, []).append(span)
    text = "".join(otlp_json_line(service, records) + "\n"
                   for service, records in by_service.items())
    with _write_lock:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)


def file_exporter(path: str | Path) -> Any:
    """An OpenTelemetry SDK ``SpanExporter`` appending finished spans to ``path``.

    The SDK is imported here, at the first span, not when this module is.
    """
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class OtlpJsonFileExporter(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            append_spans(path, [_record(s) for s in spans])
            return SpanExportResult.SUCCESS

    return OtlpJsonFileExporter()


def _record(span: Any) -> SpanRecord:
    """A finished SDK span (``ReadableSpan``) as a record."""
    context, parent = span.get_span_context(), span.parent
    return SpanRecord(
        f"{context.trace_id:032x}", f"{context.span_id:016x}",
        f"{parent.span_id:016x}" if parent is not None else None, span.name,
        span.kind.name.lower(), span.start_time, span.end_time,
        str(span.resource.attributes.get("service.name", "")),
        {k: str(v) for k, v in (span.attributes or {}).items()})
