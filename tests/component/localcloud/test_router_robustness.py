"""The router under load and against surprises: back-pressure, bad entry times, and a
target whose delivery crashes. Sources: router.py, admission.py, docs/local-cloud.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from dataplane_support import REGION, Cloud, put

from localcloud.moto_state import MotoState
from localcloud.router import Caller, Router, RouterConfig


@pytest.fixture
def stalled() -> Iterator[Router]:
    """A router whose routing thread has stopped: everything accepted stays pending."""
    router = Router(RouterConfig(max_pending=3))
    router.stop()
    yield router


def entry(n: int, **extra: object) -> dict:
    return {"EventBusName": "b", "Source": "s", "DetailType": "d",
            "Detail": json.dumps({"n": n}), **extra}


def test_entries_beyond_the_backlog_limit_are_throttled_not_queued(
        cloud: Cloud, stalled: Router) -> None:
    account = cloud.new_account()
    cloud.bus(account, "b")

    first = stalled.put_events(Caller(account, REGION), [entry(n) for n in range(2)])
    second = stalled.put_events(Caller(account, REGION), [entry(n) for n in range(2)])

    assert first["FailedEntryCount"] == 0
    # ThrottlingException is AWS's retryable per-entry code (API PutEventsResultEntry).
    assert second["FailedEntryCount"] == 1
    assert "EventId" in second["Entries"][0]
    assert second["Entries"][1] == {"ErrorCode": "ThrottlingException",
                                    "ErrorMessage": "Rate exceeded."}
    assert stalled.pending == 3


@pytest.mark.parametrize("bad_time", ["not a time", 10**20, [1]])
def test_an_entry_time_that_is_no_timestamp_fails_that_entry_alone(
        cloud: Cloud, bad_time: object) -> None:
    account = cloud.new_account()
    cloud.bus(account, "b")
    router = cloud.endpoint.router
    assert router is not None

    result = router.put_events(Caller(account, REGION), [entry(1), entry(2, Time=bad_time)])

    assert result["FailedEntryCount"] == 1
    assert "EventId" in result["Entries"][0]
    assert result["Entries"][1] == {"ErrorCode": "InvalidArgument",
                                    "ErrorMessage": "Parameter Time is not valid."}


def test_a_crashing_delivery_fails_its_target_only_with_internal_error(
        cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    # As if moto's logs model had changed shape under the data plane.
    def broken(*_args: object, **_kwargs: object) -> None:
        raise AttributeError("'LogGroup' object has no attribute 'streams'")

    monkeypatch.setattr(MotoState, "append_log_event", broken)
    account = cloud.new_account()
    cloud.bus(account, "b")
    cloud.client(account, "logs").create_log_group(logGroupName="/aws/events/b")
    cloud.logs_policy(account)
    rule = f"arn:aws:events:{REGION}:{account}:rule/b/r"
    dlq_url, dlq_arn = cloud.queue(account, "dlq", allow_rule=rule)
    inbox_url, inbox_arn = cloud.queue(account, "inbox", allow_rule=rule)
    cloud.rule(account, "b", "r", [
        {"Id": "log", "Arn": f"arn:aws:logs:{REGION}:{account}:log-group:/aws/events/b",
         "DeadLetterConfig": {"Arn": dlq_arn}},
        {"Id": "q", "Arn": inbox_arn}])

    result = put(cloud.client(account, "events"), "b")

    cloud.idle()
    [delivered] = cloud.messages(account, inbox_url)
    assert json.loads(delivered["Body"])["id"] == result["Entries"][0]["EventId"]
    [dead] = cloud.messages(account, dlq_url)
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "INTERNAL_ERROR"
    assert "AttributeError" in attributes["ERROR_MESSAGE"]
    assert attributes["RETRY_ATTEMPTS"] == "0"
