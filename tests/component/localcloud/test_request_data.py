"""What a JSON request carries is data, never a second request: on AWS a JSON protocol's
action is its X-Amz-Target header. moto read JSON bodies as query strings too, so a
value containing ``&Action=...&`` ran that action (localcloud.moto_fixes)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from dataplane_support import Cloud

from localcloud import moto_fixes


def test_a_message_body_naming_an_action_is_sent_and_purges_nothing(cloud: Cloud) -> None:
    sqs = cloud.client(cloud.new_account(), "sqs")
    queue = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="first")

    sent = sqs.send_message(QueueUrl=queue, MessageBody="see&Action=PurgeQueue&")

    assert sent["MessageId"]
    counts = sqs.get_queue_attributes(QueueUrl=queue,
                                      AttributeNames=["ApproximateNumberOfMessages"])
    assert counts["Attributes"]["ApproximateNumberOfMessages"] == "2"


def test_a_log_message_naming_an_action_is_stored_and_deletes_nothing(cloud: Cloud) -> None:
    logs = cloud.client(cloud.new_account(), "logs")
    logs.create_log_group(logGroupName="/app")
    logs.create_log_stream(logGroupName="/app", logStreamName="s")

    logs.put_log_events(logGroupName="/app", logStreamName="s", logEvents=[
        {"timestamp": 1_796_000_000_000, "message": "x&Action=DeleteLogGroup&"}])

    events = logs.get_log_events(logGroupName="/app", logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["x&Action=DeleteLogGroup&"]


def test_a_rule_description_naming_an_action_is_kept_and_deletes_no_bus(cloud: Cloud) -> None:
    events = cloud.client(cloud.new_account(), "events")
    events.create_event_bus(Name="team")
    description = "x&Action=DeleteEventBus&Name=team&"

    events.put_rule(Name="r", EventBusName="team", EventPattern='{"source": ["a"]}',
                    Description=description)

    assert "team" in [bus["Name"] for bus in events.list_event_buses()["EventBuses"]]
    assert events.describe_rule(Name="r", EventBusName="team")["Description"] == description


def test_a_form_body_of_the_query_protocol_is_still_read() -> None:
    assert moto_fixes.query_pairs("Action=AssumeRole&RoleSessionName=s") == [
        ("Action", "AssumeRole"), ("RoleSessionName", "s")]


@pytest.mark.parametrize("body", ['{"QueueUrl": "q", "MessageBody": "a=b c%20"}', "[1, 2]",
                                  '  {"Name": "x"}'])
def test_a_json_body_without_an_ampersand_reads_as_moto_reads_it(body: str) -> None:
    assert moto_fixes.query_pairs(body, keep_blank_values=True) == parse_qsl(
        body, keep_blank_values=True)


def test_a_json_body_is_one_part_whatever_its_ampersands() -> None:
    pairs = moto_fixes.query_pairs('  [{"a": "b&Action=X&Name=y"}]', keep_blank_values=True)
    assert pairs == [('  [{"a": "b&Action', 'X&Name=y"}]')]
