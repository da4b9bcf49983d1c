"""AWS's limits at the endpoint: pattern size and wildcard complexity at PutRule and
TestEventPattern, DetailType and TraceHeader lengths at PutEvents; and an adversarial
wildcard rule that is accepted routes its events like any other.

Sources are cited in localcloud/matching.py, wildcards.py and admission.py."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from dataplane_support import Cloud, put

from localcloud.wildcards import TOO_COMPLEX

EVENT = json.dumps({"id": "1", "account": "1", "source": "s", "time": "2024-01-01T00:00:00Z",
                    "region": "eu-west-1", "resources": [], "detail-type": "d", "detail": {}})


def padded_pattern(length: int) -> str:
    """A valid pattern of exactly ``length`` characters."""
    head = '{"source": ["s"]'
    return head + " " * (length - len(head) - 1) + "}"


@pytest.mark.parametrize(("length", "code"), [
    (2049, "LimitExceededException"), (4097, "ValidationException")])
def test_patterns_over_the_size_quota_or_the_api_maximum_are_refused_by_put_rule(
        cloud: Cloud, length: int, code: str) -> None:
    events = cloud.client(cloud.new_account(), "events")

    with pytest.raises(ClientError) as raised:
        events.put_rule(Name="big", EventPattern=padded_pattern(length))

    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert events.list_rules()["Rules"] == []


def test_a_pattern_of_exactly_the_quota_is_accepted(cloud: Cloud) -> None:
    events = cloud.client(cloud.new_account(), "events")

    events.put_rule(Name="fits", EventPattern=padded_pattern(2048))

    assert [r["Name"] for r in events.list_rules()["Rules"]] == ["fits"]


def test_an_over_complex_wildcard_rule_is_refused_with_aws_s_words(cloud: Cloud) -> None:
    events = cloud.client(cloud.new_account(), "events")
    pattern = json.dumps({"detail": {"v": [{"wildcard": "*a" * 12 + "*b"}]}})

    with pytest.raises(ClientError) as raised:
        events.put_rule(Name="complex", EventPattern=pattern)
    with pytest.raises(ClientError) as tested:
        events.test_event_pattern(EventPattern=pattern, Event=EVENT)

    for error in (raised.value, tested.value):
        assert error.response["Error"]["Code"] == "InvalidEventPatternException"
        assert error.response["Error"]["Message"] == (
            f"Event pattern is not valid. Reason: {TOO_COMPLEX}")


def test_the_issue_s_wildcard_rule_is_accepted_and_routes_a_long_value(cloud: Cloud) -> None:
    account = cloud.new_account()
    cloud.bus(account, "own")
    rule_arn = f"arn:aws:events:eu-west-1:{account}:rule/own/stars"
    url, arn = cloud.queue(account, "stars", allow_rule=rule_arn)
    cloud.rule(account, "own", "stars", [{"Id": "q", "Arn": arn}],
               pattern={"detail": {"v": [{"wildcard": "*a*a*a*a*a*b"}]}})
    events = cloud.client(account, "events")

    put(events, "own", detail={"v": "a" * 150})
    put(events, "own", detail={"v": "a" * 150 + "b"})
    cloud.idle()

    delivered = [json.loads(m["Body"])["detail"]["v"] for m in cloud.messages(account, url)]
    assert delivered == ["a" * 150 + "b"]


def test_a_detail_type_over_128_characters_fails_its_entry_alone(cloud: Cloud) -> None:
    events = cloud.client(cloud.new_account(), "events")

    answer = events.put_events(Entries=[
        {"Source": "s", "DetailType": "d" * 129, "Detail": "{}"},
        {"Source": "s", "DetailType": "d" * 128, "Detail": "{}"}])

    assert answer["FailedEntryCount"] == 1
    assert answer["Entries"][0]["ErrorCode"] == "InvalidArgument"
    assert "DetailType" in answer["Entries"][0]["ErrorMessage"]
    assert "EventId" in answer["Entries"][1]


def test_a_trace_header_over_500_characters_fails_the_call(cloud: Cloud) -> None:
    events = cloud.client(cloud.new_account(), "events")

    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}",
                                    "TraceHeader": "t" * 501}])

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "entries.1.member.traceHeader" in raised.value.response["Error"]["Message"]
