"""One order, one trace: its three events carry W3C traceparents with one trace id and
three span ids, and each hop's span is the child of the event that caused it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from backbone.tracing import parse_traceparent
from infra_bootstrap.cloud_handle import LocalCloud
from infra_bootstrap.cloud_process import clean_env
from infra_bootstrap.topology import REPO_ROOT

pytestmark = pytest.mark.integration
CALLER = "00-5f5e1000aaaabbbbccccddddeeeeffff-00f067aa0ba902b7-01"


def _post_order(local_cloud: LocalCloud, headers: dict[str, str]) -> str:
    request = urllib.request.Request(f"{local_cloud.api_url}/orders", data=b"{}",
                                     method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=60) as response:
        return str(json.load(response)["orderId"])


def _order_events(local_cloud: LocalCloud, order_id: str) -> list[dict]:
    updated = local_cloud.wait_for_event(
        {"detail-type": ["Order.Updated"], "detail": {"data": {"orderId": [order_id]}}},
        timeout=90)
    return local_cloud.timeline(updated["detail"]["meta"]["correlationId"])


def test_the_three_events_of_an_order_share_one_trace_with_three_spans(
        local_cloud: LocalCloud) -> None:
    order_id = _post_order(local_cloud, {})

    events = _order_events(local_cloud, order_id)

    assert [e["detail-type"] for e in events] == [
        "Order.Created", "Delivery.Updated", "Order.Updated"]
    parents = [parse_traceparent(e["detail"]["meta"]["traceparent"]) for e in events]
    assert all(p is not None and p.sampled for p in parents), parents
    assert len({p.trace_id for p in parents if p}) == 1
    assert len({p.span_id for p in parents if p}) == 3


def test_a_callers_traceparent_is_continued_and_the_spans_chain_hop_by_hop(
        local_cloud: LocalCloud) -> None:
    order_id = _post_order(local_cloud, {"traceparent": CALLER})

    events = _order_events(local_cloud, order_id)

    parents = [parse_traceparent(e["detail"]["meta"]["traceparent"]) for e in events]
    assert {p.trace_id for p in parents if p} == {"5f5e1000aaaabbbbccccddddeeeeffff"}
    spans = {s.span_id: s for s in local_cloud.spans("5f5e1000aaaabbbbccccddddeeeeffff")}
    created, delivered, updated = (spans[p.span_id] for p in parents if p)
    assert (created.name, created.kind, created.service) == (
        "POST /orders", "server", "order-service")
    assert created.parent_span_id == "00f067aa0ba902b7"
    assert (delivered.name, delivered.service, delivered.parent_span_id) == (
        "on_order_created Order.Created", "delivery-service", created.span_id)
    assert (updated.name, updated.service, updated.parent_span_id) == (
        "on_delivery_updated Delivery.Updated", "order-service", delivered.span_id)
    # The delivery hop includes the simulated work (1 s in the tests' local cloud).
    assert delivered.duration_ms >= 1000


def test_events_trace_shows_the_spans_of_an_orders_chain(local_cloud: LocalCloud) -> None:
    order_id = _post_order(local_cloud, {})
    correlation = _order_events(local_cloud, order_id)[0]["detail"]["meta"]["correlationId"]
    traces = local_cloud.process.traces_path
    assert traces is not None
    env = {**clean_env(), "AWS_ENDPOINT_URL": local_cloud.aws_url}

    shown = subprocess.run(
        [sys.executable, "-m", "infra_bootstrap", "events", "trace", correlation,
         "--spans", str(traces)], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=120)

    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    heading = next(line for line in lines if line.startswith("spans of trace "))
    assert heading.endswith(f"3 in {traces}"), heading
    spans = lines[lines.index(heading) + 1:]
    assert [line.split(" ms  ")[-1].split(" (")[0].lstrip("└─ ") for line in spans] == [
        "POST /orders", "on_order_created Order.Created",
        "on_delivery_updated Delivery.Updated"]
