"""The publisher: entry size as AWS counts it, batching, retries, PublishError."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backbone.catalog import event_type
from backbone.envelope import Meta, OutgoingEvent
from backbone.errors import PublishError, SchemaViolation
from backbone.publisher import (
    MAX_BATCH_BYTES,
    EntryTooLarge,
    Publisher,
    RetryPolicy,
    batches,
    entry_size,
)

BUS = "arn:aws:events:eu-west-1:111111111111:event-bus/global-bus"


class StubEvents:
    """An events client whose PutEvents rejects the entries a script says, per call."""

    def __init__(self, *rejections: set[int]) -> None:
        self.rejections = list(rejections)
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        rejected = self.rejections.pop(0) if self.rejections else set()
        results = [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
                   if i in rejected else {"EventId": f"id-{len(self.calls)}-{i}"}
                   for i in range(len(Entries))]
        return {"FailedEntryCount": len(rejected), "Entries": results}


def order_created(n: int = 0, customer: str = "customer-42") -> OutgoingEvent:
    data = {**event_type("Order.Created").example_detail["data"], "customerId": customer}
    return OutgoingEvent("Order.Created", data, Meta(correlation_id=f"c-{n}"))


def publisher(client: Any, sleeps: list[float] | None = None, **kw: Any) -> Publisher:
    return Publisher("order-service", bus_arn=BUS, client=client,
                     sleep=(sleeps if sleeps is not None else []).append, rand=lambda: 1.0,
                     **kw)


def test_entry_size_counts_as_the_eventbridge_user_guide_says() -> None:
    entry = {"Source": "order-service", "DetailType": "Order.Created",
             "Detail": json.dumps({"k": "é"}), "Resources": ["arn:x"],
             "EventBusName": BUS, "Time": "2025-01-01"}
    assert entry_size(entry) == 14 + 13 + 13 + len('{"k": "\\u00e9"}') + 5
    assert entry_size({"Source": "s", "DetailType": "t", "Detail": "\u00e9"}) == 4


def test_batches_split_at_ten_entries() -> None:
    entries = [{"Source": "s", "DetailType": "t", "Detail": "{}"}] * 23
    assert [len(b) for b in batches(entries)] == [10, 10, 3]
    assert [i for b in batches(entries) for i in b] == list(range(23))


def test_batches_split_below_256_kb() -> None:
    # Each entry is 100 KB as AWS counts it: two fit, a third would reach 300 KB.
    big = {"Source": "s", "DetailType": "t", "Detail": "x" * (100 * 1024 - 2)}
    assert entry_size(big) == 100 * 1024
    assert batches([big] * 5) == [[0, 1], [2, 3], [4]]
    # The limit is strict ("less than 256KB"): exactly 256 KB does not fit one request.
    half = {"Source": "s", "DetailType": "t", "Detail": "x" * (MAX_BATCH_BYTES // 2 - 2)}
    assert batches([half, half]) == [[0], [1]]


def test_an_entry_that_alone_reaches_the_limit_is_refused() -> None:
    with pytest.raises(EntryTooLarge):
        batches([{"Source": "s", "DetailType": "t", "Detail": "x" * MAX_BATCH_BYTES}])


def test_publish_sends_schema_checked_entries_to_the_bus_arn() -> None:
    client = StubEvents()
    ids = publisher(client).publish(order_created(1), order_created(2))

    assert ids == ["id-1-0", "id-1-1"]
    [entries] = client.calls
    assert {e["EventBusName"] for e in entries} == {BUS}
    assert {e["Source"] for e in entries} == {"order-service"}
    detail = json.loads(entries[0]["Detail"])
    assert detail["meta"]["correlationId"] == "c-1"
    assert detail["meta"]["producer"] == "order-service"


def test_publish_batches_twelve_events_in_two_calls() -> None:
    client = StubEvents()
    ids = publisher(client).publish(*(order_created(i) for i in range(12)))

    assert [len(c) for c in client.calls] == [10, 2]
    assert len(ids) == 12


def test_rejected_entries_alone_are_retried_with_backoff_then_succeed() -> None:
    client, sleeps = StubEvents({1, 2}, {0}), []
    ids = publisher(client, sleeps, retry=RetryPolicy(max_attempts=4, base_delay=0.1)) \
        .publish(*(order_created(i) for i in range(3)))

    assert [len(c) for c in client.calls] == [3, 2, 1]
    assert [json.loads(e["Detail"])["meta"]["correlationId"] for e in client.calls[2]] == \
        ["c-1"]
    assert ids == ["id-1-0", "id-3-0", "id-2-1"]
    assert sleeps == [0.1, 0.2]  # exponential (jitter fixed at its maximum here)


def test_entries_still_rejected_after_the_bound_raise_publish_error_naming_them() -> None:
    client, sleeps = StubEvents({1}, {0}, {0}), []  # positions within each call
    with pytest.raises(PublishError) as raised:
        publisher(client, sleeps, retry=RetryPolicy(max_attempts=3, base_delay=1.0,
                                                    max_delay=1.5)) \
            .publish(order_created(0), order_created(1))

    error = raised.value
    assert len(client.calls) == 3
    assert sleeps == [1.0, 1.5]  # capped
    assert [(u.position, u.correlation_id) for u in error.unpublished] == [(1, "c-1")]
    assert error.unpublished[0].error_code == "InternalFailure"
    assert error.published_event_ids == ("id-1-0",)
    assert str(error).startswith("1 of 2 events not published after 3 attempt(s): "
                                 "Order.Created #1 (correlation c-1): InternalFailure")


def test_a_failed_batch_names_the_later_batches_as_not_attempted() -> None:
    client = StubEvents(*[set(range(10))] * 2)
    with pytest.raises(PublishError) as raised:
        publisher(client, retry=RetryPolicy(max_attempts=2)) \
            .publish(*(order_created(i) for i in range(11)))

    codes = [u.error_code for u in raised.value.unpublished]
    assert codes == ["InternalFailure"] * 10 + ["NotAttempted"]


def test_jitter_is_full_jitter() -> None:
    assert RetryPolicy(base_delay=0.1, max_delay=2.0).delay(3, rand=lambda: 0.5) == 0.2


def test_an_invalid_event_raises_and_nothing_is_sent() -> None:
    client = StubEvents()
    bad = OutgoingEvent("Order.Created", {"orderId": "nope"}, Meta("c-1"))

    with pytest.raises(SchemaViolation):
        publisher(client).publish(order_created(0), bad)
    assert client.calls == []


def test_client_is_created_lazily_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    from backbone import aws

    created: list[str] = []

    class FakeSession:
        def client(self, name: str, config: Any) -> Any:
            created.append(name)
            return StubEvents()

    import boto3.session

    aws.reset_clients()
    monkeypatch.setattr(boto3.session, "Session", FakeSession)
    p = Publisher("order-service", bus_arn=BUS)
    assert created == []
    p.publish(order_created(0))
    p.publish(order_created(1))
    assert created == ["events"]
    aws.reset_clients()


def test_a_whole_call_error_is_not_retried_and_names_every_unsent_event() -> None:
    from botocore.exceptions import ClientError

    class DeniedOnSecondCall(StubEvents):
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            if self.calls:
                self.calls.append(Entries)
                raise ClientError({"Error": {"Code": "AccessDeniedException",
                                             "Message": "not allowed"}}, "PutEvents")
            return super().put_events(Entries)

    client, sleeps = DeniedOnSecondCall(), []
    with pytest.raises(PublishError) as raised:
        publisher(client, sleeps).publish(*(order_created(i) for i in range(12)))

    error = raised.value
    assert [len(c) for c in client.calls] == [10, 2]  # botocore retried; we do not
    assert sleeps == []
    assert error.published_event_ids == tuple(f"id-1-{i}" for i in range(10))
    assert [(u.position, u.error_code) for u in error.unpublished] == \
        [(10, "AccessDeniedException"), (11, "AccessDeniedException")]
