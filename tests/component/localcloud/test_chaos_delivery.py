"""``--chaos`` in the data plane: at-least-once delivery on demand, as EventBridge may do
it. Duplicates carry the same event id; delays let events overtake each other;
transient failures go through the target's RetryPolicy and never take its last allowed
attempt, so chaos alone dead-letters nothing. Every action is counted in the stats."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from dataplane_support import Cloud, FakeFunctions, FakeWorker, put

from localcloud.chaos import ChaosSettings
from localcloud.config import RouterConfig
from localcloud.endpoint import Endpoint

EVENTS = 20


@pytest.fixture
def chaos_endpoint(request: pytest.FixtureRequest) -> Iterator[Endpoint]:
    """An endpoint of its own, with the chaos settings the test is parametrized with."""
    settings = ChaosSettings.parse(request.param)
    # 1 AWS minute = 12 ms here, so retry waits stay fast.
    with Endpoint(port=0, invoker=FakeFunctions(),
                  config=RouterConfig(time_scale=1 / 5000, chaos=settings)) as running:
        yield running


def _queue_target(cloud: Cloud, retry_policy: dict[str, int] | None = None
                  ) -> tuple[str, str, str]:
    """A bus whose one rule sends every event to a queue; (account, bus, queue url)."""
    account = cloud.new_account()
    cloud.bus(account, "chaotic")
    rule_arn = f"arn:aws:events:eu-west-1:{account}:rule/chaotic/to-queue"
    url, arn = cloud.queue(account, "received", allow_rule=rule_arn)
    target: dict[str, Any] = {"Id": "q", "Arn": arn}
    if retry_policy is not None:
        target["RetryPolicy"] = retry_policy
    cloud.rule(account, "chaotic", "to-queue", [target])
    return account, "chaotic", url


def _put_numbered(cloud: Cloud, account: str, bus: str) -> list[str]:
    """EVENTS events with detail n = 0, 1, ... put one after the other; their ids."""
    events = cloud.client(account, "events")
    return [put(events, bus, detail={"n": n})["Entries"][0]["EventId"] for n in range(EVENTS)]


def _received(cloud: Cloud, account: str, url: str, count: int) -> list[dict[str, Any]]:
    cloud.idle()
    bodies = [json.loads(m["Body"]) for m in cloud.messages(account, url)]
    assert len(bodies) == count, bodies
    return bodies


@pytest.mark.parametrize("chaos_endpoint", ["duplicates=1,seed=1"], indirect=True)
def test_a_duplicate_is_the_same_event_delivered_again(chaos_endpoint: Endpoint) -> None:
    cloud = Cloud(chaos_endpoint)
    account, bus, url = _queue_target(cloud)

    ids = _put_numbered(cloud, account, bus)

    received = _received(cloud, account, url, 2 * EVENTS)
    assert Counter(body["id"] for body in received) == {i: 2 for i in ids}
    assert chaos_endpoint.router is not None
    assert chaos_endpoint.router.stats["chaos_duplicates"] == EVENTS
    assert chaos_endpoint.router.stats["delivered"] == 2 * EVENTS


@pytest.mark.parametrize("chaos_endpoint", ["delay=0.3,seed=2"], indirect=True)
def test_delayed_deliveries_arrive_out_of_order(chaos_endpoint: Endpoint) -> None:
    cloud = Cloud(chaos_endpoint)
    account, bus, url = _queue_target(cloud)

    _put_numbered(cloud, account, bus)

    arrived = [body["detail"]["n"] for body in _received(cloud, account, url, EVENTS)]
    assert sorted(arrived) == list(range(EVENTS))
    assert arrived != list(range(EVENTS))
    assert chaos_endpoint.router is not None
    assert chaos_endpoint.router.stats["chaos_delays"] == EVENTS


@pytest.mark.parametrize("chaos_endpoint", ["failures=1,seed=3"], indirect=True)
def test_failures_are_retried_and_never_take_the_last_allowed_attempt(
        chaos_endpoint: Endpoint) -> None:
    cloud = Cloud(chaos_endpoint)
    account, bus, url = _queue_target(cloud, {"MaximumRetryAttempts": 2,
                                              "MaximumEventAgeInSeconds": 3600})

    ids = _put_numbered(cloud, account, bus)

    assert sorted(body["id"] for body in _received(cloud, account, url, EVENTS)) == sorted(ids)
    stats = chaos_endpoint.router.stats if chaos_endpoint.router else {}
    # Every event: the first attempt and the first retry fail, the last allowed succeeds.
    assert stats["chaos_failures"] == 2 * EVENTS
    assert stats["retried"] == 2 * EVENTS
    assert stats["dead_lettered"] == stats["dropped"] == 0


def _lease_holding_handler(worker: FakeWorker, name: str, run_s: float) -> dict[str, int]:
    """A handler that, like backbone.idempotency, fails while another run of the same
    event holds its lease, and does nothing for an event already done; returns the
    count of runs that did the work, per event id."""
    lock = threading.Lock()
    running: set[str] = set()
    done: Counter[str] = Counter()

    def handle(event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        with lock:
            if event["id"] in running:
                return 200, {"X-Amz-Function-Error": "Unhandled"}, {
                    "errorType": "DuplicateInProgress", "errorMessage": "leased"}
            if done[event["id"]]:
                return 200, {}, {"duplicate": True}
            running.add(event["id"])
        time.sleep(run_s)
        with lock:
            running.discard(event["id"])
            done[event["id"]] += 1
        return 200, {}, {"done": True}

    worker.behaviours[name] = handle
    return done


@pytest.mark.parametrize("chaos_endpoint", ["duplicates=1,seed=4"], indirect=True)
def test_a_retry_waits_for_a_run_of_the_same_event_to_end(chaos_endpoint: Endpoint) -> None:
    """A duplicate that meets the first run's lease fails; Lambda retries it after one and
    two minutes, by when the run has ended. Scaled to milliseconds the retries would come
    during the run and the duplicate would be dead-lettered: locally a retry waits until
    no run of the same event by the same function is in progress."""
    cloud = Cloud(chaos_endpoint)
    account = cloud.new_account()
    cloud.bus(account, "chaotic")
    rule_arn = f"arn:aws:events:eu-west-1:{account}:rule/chaotic/to-function"
    worker = FakeWorker()
    done = _lease_holding_handler(worker, "handler-fn", run_s=0.5)
    arn = cloud.function(account, "handler-fn", rule_arn=rule_arn, worker=worker)
    cloud.rule(account, "chaotic", "to-function", [{"Id": "f", "Arn": arn}])

    event_id = put(cloud.client(account, "events"), "chaotic")["Entries"][0]["EventId"]

    cloud.idle()
    assert done == {event_id: 1}
    stats = chaos_endpoint.router.stats if chaos_endpoint.router else {}
    assert stats["chaos_duplicates"] == 1
    assert stats["dead_lettered"] == stats["dropped"] == 0
    assert len(worker.calls_to("handler-fn")) >= 3  # run, duplicate failed, its retry
