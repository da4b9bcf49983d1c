"""The data plane's log writes (``MotoState.append_log_event``) leave a log stream as
moto's own PutLogEvents does, as every Logs API reader sees it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.moto_state import MotoState

REGION, ACCOUNT = "eu-west-1", "123456789012"


@pytest.fixture
def logs() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("logs", region_name=REGION, aws_access_key_id="k",
                              aws_secret_access_key="k")
        client.create_log_group(logGroupName="g")
        yield client


def _streams(logs: Any) -> dict[str, dict[str, Any]]:
    return {s["logStreamName"]: s for s in logs.describe_log_streams(
        logGroupName="g")["logStreams"]}


def test_an_appended_event_reads_back_as_one_put_by_putlogevents(logs: Any) -> None:
    logs.create_log_stream(logGroupName="g", logStreamName="by-moto")
    state = MotoState()

    state.append_log_event(REGION, ACCOUNT, "g", "ours", '{"id": "1"}')
    state.append_log_event(REGION, ACCOUNT, "g", "ours", '{"id": "2"}')
    for message in ('{"id": "1"}', '{"id": "2"}'):
        logs.put_log_events(logGroupName="g", logStreamName="by-moto", logEvents=[
            {"timestamp": int(time.time() * 1000), "message": message}])

    ours, theirs = (logs.get_log_events(logGroupName="g", logStreamName=name)["events"]
                    for name in ("ours", "by-moto"))
    assert [e["message"] for e in ours] == [e["message"] for e in theirs]
    assert all(abs(e["ingestionTime"] - e["timestamp"]) < 1000 for e in ours)
    streams = _streams(logs)
    for field in ("storedBytes", "uploadSequenceToken"):
        assert streams["ours"].get(field) == streams["by-moto"].get(field), field
    assert streams["ours"]["lastIngestionTime"] >= ours[-1]["timestamp"]
    found = logs.filter_log_events(logGroupName="g", logStreamNames=["ours"])["events"]
    assert [e["message"] for e in found] == ['{"id": "1"}', '{"id": "2"}']


def test_a_group_with_a_subscription_filter_goes_through_moto_s_own_path(
        logs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.logs.models import LogStream

    handed_on: list[list[dict[str, Any]]] = []
    monkeypatch.setattr(LogStream, "put_log_events",
                        lambda self, events: handed_on.append(events) or "0")
    state = MotoState()
    state.append_log_event(REGION, ACCOUNT, "g", "s", "plain")
    assert handed_on == []
    group = state._backend("logs", ACCOUNT, REGION).groups["g"]
    group.subscription_filters["f"] = object()

    state.append_log_event(REGION, ACCOUNT, "g", "s", "subscribed")

    assert [[e["message"] for e in events] for events in handed_on] == [["subscribed"]]
