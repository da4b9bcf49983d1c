"""Publish events to the global bus: ``PutEvents`` with the bus ARN as EventBusName.

Entries go out in batches of at most 10 entries and 256 KB; entries EventBridge
rejects (``FailedEntryCount`` > 0, an ``ErrorCode`` on the entry) are retried alone
with exponential backoff and full jitter, up to ``RetryPolicy.max_attempts``; what is
still unpublished then is named by a :class:`PublishError`. Nothing is dropped silently.
Every event is checked against its JSON Schema before anything is sent.

>>> from backbone.catalog import event_type
>>> from backbone.envelope import Meta
>>> order = event_type("Order.Created").example_detail["data"]
>>> publisher = Publisher(source="order-service")      # to GLOBAL_BUS_ARN, at first use
>>> [event_id] = publisher.publish(OutgoingEvent("Order.Created", order, Meta("c-1")))
>>> len(event_id)                                      # EventBridge's id of the event
36
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from backbone import aws, observability, settings, tracing
from backbone.envelope import OutgoingEvent, utc_now
from backbone.errors import PublishError, UnpublishedEvent
from backbone.validation import validate_detail

# PutEvents limits. Sources: EventBridge API Reference, PutEvents (Entries: "Array
# Members: Minimum number of 1 item. Maximum number of 10 items."), and User Guide
# "Calculating Amazon EventBridge PutEvents event entry size" (https://docs.aws.amazon.com/
# eventbridge/latest/userguide/calculate-putevents-entry-size.html): "You can batch multiple
# event entries into one request ... The total entry size must be less than 256KB."
# (AWS announced 1 MB events in January 2026; staying below 256 KB satisfies both the
# old and the new limit.)
MAX_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024
_TIME_PARAMETER_BYTES = 14


def entry_size(entry: dict[str, Any]) -> int:
    """Size of a PutEventsRequestEntry as EventBridge counts it (see the User Guide page
    cited above): Time counts 14 bytes if given; Source, DetailType, Detail and each
    Resources entry count their UTF-8 bytes. EventBusName does not count.

    >>> entry_size({"Source": "s", "DetailType": "é", "Detail": "{}", "Time": "x"})
    19
    """
    size = _TIME_PARAMETER_BYTES if entry.get("Time") is not None else 0
    size += len(entry["Source"].encode("utf-8"))
    size += len(entry["DetailType"].encode("utf-8"))
    if entry.get("Detail") is not None:
        size += len(entry["Detail"].encode("utf-8"))
    for resource in entry.get("Resources") or ():
        size += len(resource.encode("utf-8"))
    return size


class EntryTooLarge(ValueError):
    """One entry alone exceeds the request size limit: it can never be published."""


def batches(entries: Sequence[dict[str, Any]], *, max_entries: int = MAX_ENTRIES,
            max_bytes: int = MAX_BATCH_BYTES) -> list[list[int]]:
    """Split entries, in order, into batches (lists of indexes) within both limits.

    The total size of a batch stays below ``max_bytes`` (strictly, as the docs say).

    >>> batches([{"Source": "s", "DetailType": "t"}] * 12)
    [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11]]
    """
    result: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for index, entry in enumerate(entries):
        size = entry_size(entry)
        if size >= max_bytes:
            raise EntryTooLarge(f"entry {index} ({entry['DetailType']}) is {size} bytes; "
                                f"PutEvents takes less than {max_bytes} bytes per request")
        if current and (len(current) == max_entries or current_bytes + size >= max_bytes):
            result.append(current)
            current, current_bytes = [], 0
        current.append(index)
        current_bytes += size
    if current:
        result.append(current)
    return result


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of rejected entries: exponential backoff with full jitter, bounded.

    Full jitter: sleep a random time in [0, min(cap, base * 2**retry)).
    Source: AWS Architecture Blog, "Exponential Backoff And Jitter".
    """

    max_attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 2.0

    def delay(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        return rand() * min(self.max_delay, self.base_delay * (2 ** (retry - 1)))


class Publisher:
    """Publishes :class:`OutgoingEvent` s to the global bus with one ``source``.

    Everything is resolved at first publish: the bus ARN (``GLOBAL_BUS_ARN`` unless
    given) and the cached boto3 ``events`` client (unless one is given).
    """

    def __init__(self, source: str, *, bus_arn: str | None = None, client: Any = None,
                 retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rand: Callable[[], float] = random.random) -> None:
        self.source = source
        self._bus_arn = bus_arn
        self._client = client
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rand = rand

    @property
    def bus_arn(self) -> str:
        return self._bus_arn or settings.global_bus_arn()

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else aws.client("events")

    def entry(self, event: OutgoingEvent) -> dict[str, Any]:
        """The PutEvents entry of one event, after checking its schema (raises
        SchemaViolation: an invalid event is never sent)."""
        if event.meta.producer is None or event.meta.published_at is None \
                or event.meta.traceparent is None:
            hop = tracing.current()
            event = replace(event, meta=replace(
                event.meta, producer=event.meta.producer or self.source,
                published_at=event.meta.published_at or utc_now(),
                traceparent=event.meta.traceparent or (hop.header() if hop else None)))
        detail = event.detail()
        validate_detail(event.detail_type, detail)
        entry: dict[str, Any] = {
            "Source": self.source,
            "DetailType": event.detail_type,
            "Detail": json.dumps(detail, separators=(",", ":"), ensure_ascii=False),
            "EventBusName": self.bus_arn,
        }
        if event.resources:
            entry["Resources"] = list(event.resources)
        trace = tracing.parse_traceparent(event.meta.traceparent)
        if trace is not None:
            # PutEvents' TraceHeader: "An AWS X-Ray trace header, which is an http header
            # (X-Amzn-Trace-Id) that contains the trace-id associated with the event"
            # (EventBridge API Reference, PutEventsRequestEntry; 1 to 500 characters).
            entry["TraceHeader"] = trace.xray_header()
        return entry

    def publish(self, *events: OutgoingEvent) -> list[str]:
        """Publish events in order; return their EventBridge event ids.

        Raises SchemaViolation (nothing sent), PublishError (names what was not sent).
        """
        if not events:
            return []
        entries = [self.entry(e) for e in events]
        correlation = [e.meta.correlation_id for e in events]
        try:
            plan = batches(entries)
        except EntryTooLarge as exc:
            raise self._failure(entries, correlation, {}, dict.fromkeys(
                range(len(entries)), ("EntryTooLarge", str(exc))), attempts=0) from None
        ids: dict[int, str] = {}
        for number, batch in enumerate(plan):
            failed, attempts = self._send_with_retries(entries, batch, ids)
            if failed:
                not_attempted = [i for later in plan[number + 1:] for i in later]
                failed.update(dict.fromkeys(
                    not_attempted, ("NotAttempted", "an earlier batch failed")))
                raise self._failure(entries, correlation, ids, failed, attempts)
        observability.count(observability.EVENTS_PUBLISHED, len(ids))
        return [ids[i] for i in range(len(entries))]

    def _send_with_retries(self, entries: Sequence[dict[str, Any]], batch: list[int],
                           ids: dict[int, str]) -> tuple[dict[int, tuple[str, str]], int]:
        """Send one batch; retry rejected entries. Returns (still failed, attempts)."""
        import botocore.exceptions

        pending = list(batch)
        failed: dict[int, tuple[str, str]] = {}
        attempt = 0
        while pending and attempt < self.retry.max_attempts:
            if attempt:
                self._sleep(self.retry.delay(attempt, self._rand))
            attempt += 1
            try:
                response = self.client.put_events(Entries=[entries[i] for i in pending])
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                # The whole call failed after botocore's own retries of transient errors
                # (throttling, 5xx): an error like AccessDenied will not heal by retrying.
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", "CallFailed")
                return dict.fromkeys(pending, (code, str(exc))), attempt
            failed = {}
            # Results come back in request order. Source: PutEvents API Reference,
            # response element Entries: "For each record, the index of the response
            # element is the same as the index in the request array."
            for index, result in zip(pending, response["Entries"], strict=True):
                if result.get("ErrorCode") or not result.get("EventId"):
                    failed[index] = (result.get("ErrorCode", "Unknown"),
                                     result.get("ErrorMessage", "no event id returned"))
                else:
                    ids[index] = result["EventId"]
            pending = list(failed)
        return failed, attempt

    def _failure(self, entries: Sequence[dict[str, Any]], correlation: Sequence[str],
                 ids: dict[int, str], failed: dict[int, tuple[str, str]],
                 attempts: int) -> PublishError:
        observability.count(observability.EVENTS_PUBLISHED, len(ids))
        observability.count(observability.EVENTS_FAILED, len(failed))
        unpublished = tuple(
            UnpublishedEvent(entries[i]["DetailType"], correlation[i], *failed[i], position=i)
            for i in sorted(failed))
        error = PublishError(unpublished, tuple(ids[i] for i in sorted(ids)), attempts)
        observability.logger().error("events not published", extra={
            "unpublished": [str(u) for u in unpublished], "attempts": attempts})
        return error

