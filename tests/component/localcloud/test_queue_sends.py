"""The data plane's SQS sends (targets, dead-letter queues, destinations) as SendMessage
makes them, in time independent of the queue's depth (``MotoState.send_message``).

Read back with boto3, which checks the MD5 of each body and its message attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs.exceptions import InvalidParameterValue, MissingParameter
from moto.sqs.models import Queue

from localcloud import arns
from localcloud.moto_state import MotoState

REGION, ACCOUNT = "eu-west-1", "123456789012"


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION, aws_access_key_id="k",
                           aws_secret_access_key="k")


def _queue(sqs: Any, name: str, **attributes: str) -> tuple[str, arns.Arn]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, arns.parse(f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")


def _send(arn: arns.Arn, body: str, *, group_id: str | None = None,
          deduplication_id: str | None = None, **attributes: str) -> None:
    MotoState().send_message(arn, body, attributes=attributes, group_id=group_id,
                             deduplication_id=deduplication_id)


def test_a_message_arrives_with_its_body_and_string_attributes(sqs: Any) -> None:
    url, arn = _queue(sqs, "target")
    _send(arn, '{"id":"e-1"}', ERROR_CODE="NO_PERMISSIONS", RETRY_ATTEMPTS="0")

    [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"],
                                    AttributeNames=["All"])["Messages"]
    assert message["Body"] == '{"id":"e-1"}'
    assert message["MessageAttributes"] == {
        "ERROR_CODE": {"DataType": "String", "StringValue": "NO_PERMISSIONS"},
        "RETRY_ATTEMPTS": {"DataType": "String", "StringValue": "0"}}
    assert int(message["Attributes"]["SentTimestamp"]) > 0


def test_the_queues_delay_holds_the_message_back(sqs: Any) -> None:
    url, arn = _queue(sqs, "slow", DelaySeconds="60")
    _send(arn, "{}")
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"],
            counts["ApproximateNumberOfMessagesDelayed"]) == ("0", "1")


def test_a_fifo_queue_keeps_the_group_and_drops_a_duplicate(sqs: Any) -> None:
    url, arn = _queue(sqs, "ordered.fifo", FifoQueue="true")
    _send(arn, "first", group_id="g-1", deduplication_id="d-1")
    _send(arn, "again", group_id="g-1", deduplication_id="d-1")
    _send(arn, "second", group_id="g-1", deduplication_id="d-2")

    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                   AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in messages] == ["first", "second"]
    assert {m["Attributes"]["MessageGroupId"] for m in messages} == {"g-1"}
    assert all(len(m["Attributes"]["SequenceNumber"]) == 20 for m in messages)


def test_a_fifo_queue_refuses_a_message_without_a_group(sqs: Any) -> None:
    _, arn = _queue(sqs, "strict.fifo", FifoQueue="true")
    with pytest.raises(MissingParameter, match="MessageGroupId"):
        _send(arn, "lost?", deduplication_id="d-1")


def test_a_message_beyond_the_queues_maximum_size_is_refused(sqs: Any) -> None:
    _, arn = _queue(sqs, "small", MaximumMessageSize="1024")
    with pytest.raises(InvalidParameterValue, match="Message must be shorter than 1024 bytes"):
        _send(arn, "x" * 1025)


def test_a_standard_queue_send_never_recounts_the_queue(
        sqs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's own SendMessage reads every queue attribute, three of which scan every
    message: the data plane's send must not, or a deep queue slows every delivery."""
    url, arn = _queue(sqs, "deep")
    for n in range(50):
        _send(arn, f"m-{n}")

    def recount(self: Queue) -> Any:
        raise AssertionError("the send read Queue.attributes (a scan of the queue)")

    monkeypatch.setattr(Queue, "attributes", property(recount))
    _send(arn, "m-50")
    monkeypatch.undo()

    depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]
    assert depth == "51"
