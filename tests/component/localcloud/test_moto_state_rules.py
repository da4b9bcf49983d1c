"""The data plane's view of a bus's rules is remembered between events, and every
control-plane change shows in the very next read (``MotoState.rules``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.arns import BusRef
from localcloud.moto_state import MotoState

REGION, ACCOUNT = "eu-west-1", "123456789012"
BUS = BusRef(ACCOUNT, REGION, "b")
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"


@pytest.fixture
def events() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("events", region_name=REGION, aws_access_key_id="k",
                              aws_secret_access_key="k")
        client.create_event_bus(Name="b")
        client.put_rule(Name="r", EventBusName="b", EventPattern=json.dumps({"source": ["a"]}))
        client.put_targets(Rule="r", EventBusName="b", Targets=[{"Id": "t", "Arn": QUEUE}])
        yield client


def _view(state: MotoState) -> list[tuple[str, str, Any, list[tuple[str, str]]]]:
    return [(rule.name, rule.state, json.loads(rule.pattern or "null"),
             [(t["Id"], t["Arn"]) for t in rule.targets]) for rule in state.rules(BUS)]


def test_unchanged_rules_are_read_once(events: Any) -> None:
    state = MotoState()
    first = state.rules(BUS)
    assert [r.targets for r in state.rules(BUS)] == [r.targets for r in first]
    assert state.rules(BUS)[0] is first[0]


def test_every_change_is_seen_by_the_next_read(events: Any) -> None:
    state = MotoState()
    assert _view(state) == [("r", "ENABLED", {"source": ["a"]}, [("t", QUEUE)])]

    events.put_rule(Name="r", EventBusName="b", EventPattern=json.dumps({"source": ["b"]}))
    assert _view(state) == [("r", "ENABLED", {"source": ["b"]}, [("t", QUEUE)])]

    events.put_targets(Rule="r", EventBusName="b", Targets=[{"Id": "t", "Arn": QUEUE + "2"}])
    assert _view(state) == [("r", "ENABLED", {"source": ["b"]}, [("t", QUEUE + "2")])]

    events.put_targets(Rule="r", EventBusName="b", Targets=[{"Id": "u", "Arn": QUEUE}])
    assert _view(state)[0][3] == [("t", QUEUE + "2"), ("u", QUEUE)]

    events.disable_rule(Name="r", EventBusName="b")
    assert _view(state)[0][1] == "DISABLED"
    events.enable_rule(Name="r", EventBusName="b")
    assert _view(state)[0][1] == "ENABLED"

    events.remove_targets(Rule="r", EventBusName="b", Ids=["t"])
    assert _view(state)[0][3] == [("u", QUEUE)]

    events.put_rule(Name="s", EventBusName="b", EventPattern=json.dumps({"source": ["c"]}))
    assert [name for name, *_ in _view(state)] == ["r", "s"]
    events.remove_targets(Rule="r", EventBusName="b", Ids=["u"])
    events.delete_rule(Name="r", EventBusName="b")
    assert [name for name, *_ in _view(state)] == ["s"]
