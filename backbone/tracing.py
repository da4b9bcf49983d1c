"""Tracing across services with OpenTelemetry: one trace per request, one span per hop.

A hop is one invocation: the API request, or a handler's run on one event. Its span
continues the trace of what caused it (the request's ``traceparent`` header, or the
event's ``detail.meta.traceparent``), and every event it publishes carries the hop's
own W3C trace context (https://www.w3.org/TR/trace-context/) in ``detail.meta`` and the
same ids as the X-Ray ``TraceHeader`` of its PutEvents entry. Trace ids are X-Ray
compatible (the first 8 hex digits are the epoch seconds), as the AWS Distro for
OpenTelemetry's ``AwsXRayIdGenerator`` makes them, so one id works in both formats.

Export (the OpenTelemetry SDK is imported at the first span, never at import time):
- an SDK ``TracerProvider`` already installed globally (the AWS Distro for
  OpenTelemetry's Lambda layer installs one) is used as it is;
- otherwise ``BACKBONE_TRACES_FILE`` appends every span as OTLP JSON lines to that file
  (:mod:`backbone.trace_file`), and ``OTEL_TRACES_EXPORTER=console`` prints each span
  as one JSON line; with neither, spans are made (ids propagate) but not exported.

Pure helpers:

>>> parent = parse_traceparent("00-5f5e1000aaaabbbbccccddddeeeeffff-00f067aa0ba902b7-01")
>>> parent.trace_id, parent.span_id, parent.sampled
('5f5e1000aaaabbbbccccddddeeeeffff', '00f067aa0ba902b7', True)
>>> parent.xray_header()
'Root=1-5f5e1000-aaaabbbbccccddddeeeeffff;Parent=00f067aa0ba902b7;Sampled=1'
>>> parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01") is None
True
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

TRACES_FILE = "BACKBONE_TRACES_FILE"
EXPORTER = "OTEL_TRACES_EXPORTER"
TRACEPARENT = "traceparent"
INSTRUMENTATION = "backbone"
# W3C Trace Context, section 3.2: version-format of version 00; a higher version may add
# fields after a "-", which a version-00 parser ignores.
_TRACEPARENT = re.compile(
    r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[0-9a-zA-Z-]*)?$")
_KINDS = ("internal", "server", "client", "producer", "consumer")
_lock = threading.Lock()
_state: dict[str, Any] = {}


@dataclass(frozen=True)
class TraceParent:
    """A span's W3C trace context: trace id, span id, sampled flag."""

    trace_id: str
    span_id: str
    sampled: bool = True

    def header(self) -> str:
        """The ``traceparent`` value (version 00).

        >>> TraceParent("5f5e1000aaaabbbbccccddddeeeeffff", "00f067aa0ba902b7").header()
        '00-5f5e1000aaaabbbbccccddddeeeeffff-00f067aa0ba902b7-01'
        """
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def xray_header(self) -> str:
        """The same context as an X-Ray trace header (PutEvents' ``TraceHeader``)."""
        return (f"Root=1-{self.trace_id[:8]}-{self.trace_id[8:]};Parent={self.span_id};"
                f"Sampled={1 if self.sampled else 0}")


def parse_traceparent(value: object) -> TraceParent | None:
    """A ``traceparent`` value parsed, or None if it is not valid: the W3C
    recommendation is to ignore an invalid one and start a new trace."""
    if not isinstance(value, str):
        return None
    found = _TRACEPARENT.match(value.strip())
    if found is None:
        return None
    version, trace_id, span_id, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest) \
            or trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceParent(trace_id, span_id, bool(int(flags, 16) & 1))


def xray_trace_id(now: float | None = None, rand: random.Random | None = None) -> int:
    """A 128-bit trace id whose first 32 bits are the epoch seconds (X-Ray's format).

    >>> f"{xray_trace_id(now=1_600_000_000, rand=random.Random(1)):032x}"[:8]
    '5f5e1000'
    """
    seconds = int(time.time() if now is None else now)
    return (seconds << 96) | (rand or random).getrandbits(96)


def current() -> TraceParent | None:
    """The trace context of the span in progress in this thread, if any."""
    if "trace" not in _state:
        return None
    context = _state["trace"].get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return TraceParent(f"{context.trace_id:032x}", f"{context.span_id:016x}",
                       context.trace_flags.sampled)


@contextmanager
def span(name: str, *, parent: object = None, kind: str = "internal",
         attributes: Mapping[str, str] | None = None) -> Iterator[TraceParent]:
    """Run a block as a span: the child of ``parent`` (a ``traceparent`` value) when
    it is valid, else of the current span, else the root of a new trace."""
    if kind not in _KINDS:
        raise ValueError(f"span kind {kind!r}: one of {', '.join(_KINDS)}")
    tracer = _tracer()
    trace = _state["trace"]
    context = None
    given = parse_traceparent(parent)
    if given is not None:
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

        context = trace.set_span_in_context(NonRecordingSpan(SpanContext(
            int(given.trace_id, 16), int(given.span_id, 16), is_remote=True,
            trace_flags=TraceFlags(1 if given.sampled else 0))))
    with tracer.start_as_current_span(name, context=context,
                                      kind=getattr(trace.SpanKind, kind.upper()),
                                      attributes=dict(attributes or {})):
        made = current()
        assert made is not None  # an SDK tracer always makes a valid span
        yield made


def _tracer() -> Any:
    with _lock:
        if "tracer" not in _state:
            from opentelemetry import trace

            _state["trace"] = trace
            _state["tracer"] = _provider(trace).get_tracer(INSTRUMENTATION)
        return _state["tracer"]


def _provider(trace: Any) -> Any:
    """The global SDK provider if one is installed, else ours (exporters from the env)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    installed = trace.get_tracer_provider()
    if isinstance(installed, TracerProvider):
        return installed

    class XRayIds(RandomIdGenerator):
        def generate_trace_id(self) -> int:
            return xray_trace_id()

    attributes = {"service.name": _service_name(), "cloud.provider": "aws"}
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        attributes["faas.name"] = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    provider = TracerProvider(resource=Resource.create(attributes), id_generator=XRayIds())
    # Simple (synchronous) processors: a Lambda environment may be frozen right after
    # the invocation returns, before a batch processor's thread would export.
    path = os.environ.get(TRACES_FILE, "").strip()
    if path:
        from backbone.trace_file import file_exporter

        provider.add_span_processor(SimpleSpanProcessor(file_exporter(path)))
    if "console" in os.environ.get(EXPORTER, "").split(","):
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(
            formatter=lambda s: s.to_json(indent=None) + "\n")))
    return provider


def _service_name() -> str:
    from backbone import observability

    return observability.service_name()


def reset() -> None:
    """Forget the tracer (tests that change the environment)."""
    with _lock:
        _state.clear()
