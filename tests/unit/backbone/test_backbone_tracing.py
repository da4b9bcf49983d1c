"""Tracing: W3C trace context parsed as the recommendation says, one span per hop
continuing its cause's trace, the publisher's traceparent and X-Ray TraceHeader, and
the spans file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backbone import trace_file, tracing
from backbone.catalog import event_type
from backbone.envelope import Meta, OutgoingEvent
from backbone.publisher import Publisher

PARENT = "00-5f5e1000aaaabbbbccccddddeeeeffff-00f067aa0ba902b7-01"


@pytest.fixture
def traces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh tracer exporting to a spans file of the test's own."""
    path = tmp_path / "traces.jsonl"
    monkeypatch.setenv(tracing.TRACES_FILE, str(path))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "order-service")
    tracing.reset()
    yield path
    tracing.reset()


@pytest.mark.parametrize("value", [
    None, 42, "", "00-5f5e1000aaaabbbbccccddddeeeeffff-00f067aa0ba902b7",
    "00-5F5E1000AAAABBBBCCCCDDDDEEEEFFFF-00f067aa0ba902b7-01",    # uppercase
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    # all-zero trace id
    "00-5f5e1000aaaabbbbccccddddeeeeffff-0000000000000000-01",    # all-zero span id
    "ff-5f5e1000aaaabbbbccccddddeeeeffff-00f067aa0ba902b7-01",    # version ff is invalid
    f"{PARENT}-extra",                                            # version 00 has 4 fields
])
def test_an_invalid_traceparent_is_ignored(value: Any) -> None:
    assert tracing.parse_traceparent(value) is None


def test_a_later_version_is_read_as_version_00_and_flags_give_sampled() -> None:
    later = tracing.parse_traceparent(
        "01-5f5e1000aaaabbbbccccddddeeeeffff-00f067aa0ba902b7-00-what-comes-next")

    assert later == tracing.TraceParent("5f5e1000aaaabbbbccccddddeeeeffff",
                                        "00f067aa0ba902b7", sampled=False)
    assert later.xray_header() == \
        "Root=1-5f5e1000-aaaabbbbccccddddeeeeffff;Parent=00f067aa0ba902b7;Sampled=0"


def test_a_span_continues_its_parents_trace_and_is_written_to_the_file(traces: Path) -> None:
    with tracing.span("on_order_created Order.Created", parent=PARENT, kind="consumer") as hop:
        assert tracing.current() == hop

    assert hop.trace_id == "5f5e1000aaaabbbbccccddddeeeeffff"
    assert hop.span_id != "00f067aa0ba902b7"
    [span] = trace_file.read_spans(traces)
    assert (span.trace_id, span.span_id, span.parent_span_id, span.name, span.kind,
            span.service) == (hop.trace_id, hop.span_id, "00f067aa0ba902b7",
                              "on_order_created Order.Created", "consumer", "order-service")
    assert span.end_ns >= span.start_ns
    assert tracing.current() is None


def test_without_a_parent_a_new_trace_starts_with_an_xray_compatible_id(traces: Path) -> None:
    import time

    before = int(time.time())
    with tracing.span("POST /orders", parent="garbage", kind="server") as root, \
            tracing.span("inner") as inner:
        pass

    assert before <= int(root.trace_id[:8], 16) <= int(time.time())
    assert inner.trace_id == root.trace_id
    spans = {s.name: s for s in trace_file.read_spans(traces, root.trace_id)}
    assert spans["POST /orders"].parent_span_id is None
    assert spans["inner"].parent_span_id == root.span_id


def test_published_events_carry_the_hops_traceparent_and_trace_header(traces: Path) -> None:
    order = event_type("Order.Created").example_detail["data"]
    publisher = Publisher(source="order-service", client=object(),
                          bus_arn="arn:aws:events:eu-west-1:111111111111:event-bus/global-bus")

    outside = publisher.entry(OutgoingEvent("Order.Created", order, Meta("c-1")))
    with tracing.span("POST /orders", kind="server") as hop:
        inside = publisher.entry(OutgoingEvent("Order.Created", order, Meta("c-1")))

    assert "TraceHeader" not in outside
    assert "traceparent" not in json.loads(outside["Detail"])["meta"]
    assert json.loads(inside["Detail"])["meta"]["traceparent"] == hop.header()
    assert inside["TraceHeader"] == hop.xray_header()


def test_the_spans_file_format_is_otlp_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    record = trace_file.SpanRecord("5f5e1000" + "a" * 24, "b" * 16, "c" * 16, "x", "producer",
                                   10, 20, "delivery-service", {"k": "v"})

    trace_file.append_spans(path, [record])
    trace_file.append_spans(path, [record])
    line = json.loads(path.read_text().splitlines()[0])

    span = line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert line["resourceSpans"][0]["resource"]["attributes"] == [
        {"key": "service.name", "value": {"stringValue": "delivery-service"}}]
    assert (span["kind"], span["startTimeUnixNano"], span["parentSpanId"]) == (4, "10", "c" * 16)
    assert trace_file.read_spans(path) == [record, record]
    assert trace_file.read_spans(tmp_path / "none.jsonl") == []
