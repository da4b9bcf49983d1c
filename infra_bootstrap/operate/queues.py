"""The stage's dead-letter queues: find them, count them, read them, delete from them.

The queues are the ones the bootstrap wires (``desired.py``, ``subscribe.py``): the
forwarding rules' DLQ in the bus account, and per service ``<service>-handler-dlq``,
which is both the DeadLetterConfig of its subscription rules and the on-failure
destination of its functions. Any other DeadLetterConfig found on a rule of the stage's
buses (ListRules / ListTargetsByRule, paginated) is listed too.

Reading holds each message invisible while it is read (ReceiveMessage with a
visibility timeout) and gives back what it does not delete (ChangeMessageVisibility to
0), so a message is never consumed by looking at it. Source: Amazon SQS Developer Guide,
"Amazon SQS visibility timeout" (a message received stays in the queue until deleted;
ChangeMessageVisibility 0 makes it visible again at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import botocore.exceptions

from infra_bootstrap import names
from infra_bootstrap.errors import AwsCallError
from infra_bootstrap.operate.deadletters import DeadLetter, parse_message
from infra_bootstrap.operate.logs import ClientSource, bus_logs
from infra_bootstrap.topology import Stage

FORWARD = "bus forwards"
HANDLER = "handler failures"
OTHER = "rule targets"
# How long a read holds messages invisible; they are given back right after.
HOLD_SECONDS = 60
COUNT_ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed")


@dataclass(frozen=True)
class QueueRef:
    """A dead-letter queue of the stage: its account, name and what fails into it."""

    account: str
    name: str
    holds: str


def desired_queues(stage: Stage) -> list[QueueRef]:
    """The dead-letter queues the bootstrap creates, bus account first. Pure.

    >>> from infra_bootstrap.topology import load_stage
    >>> [(q.account, q.name) for q in desired_queues(load_stage("local"))][:2]
    [('111111111111', 'global-bus-forward-dlq'), ('222222222222', 'order-service-handler-dlq')]
    """
    return [QueueRef(stage.bus_account, names.FORWARD_DLQ, FORWARD)] + [
        QueueRef(s.account, names.service_dlq(s.name), HANDLER) for s in stage.services]


def _fail(account: str, operation: str, resource: str, exc: Exception) -> AwsCallError:
    return AwsCallError(account, operation, resource, " ".join(str(exc).split()))


def stage_queues(stage: Stage, sessions: ClientSource) -> list[QueueRef]:
    """The desired queues plus every other DLQ a rule of the stage's buses names."""
    found = desired_queues(stage)
    known = {(q.account, q.name) for q in found}
    for bus, account in bus_logs(stage):
        events = sessions.client(account, "events")
        try:
            rules = [rule for page in events.get_paginator("list_rules").paginate(
                EventBusName=bus) for rule in page.get("Rules", [])]
            for rule in rules:
                targets = [t for page in events.get_paginator("list_targets_by_rule").paginate(
                    Rule=rule["Name"], EventBusName=bus) for t in page.get("Targets", [])]
                for target in targets:
                    arn = (target.get("DeadLetterConfig") or {}).get("Arn")
                    if not arn:
                        continue
                    parsed = names.parse_arn(arn)
                    if (parsed.account, parsed.resource) not in known:
                        known.add((parsed.account, parsed.resource))
                        found.append(QueueRef(parsed.account, parsed.resource, OTHER))
        except events.exceptions.ResourceNotFoundException:
            continue
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise _fail(account, "events:ListRules", bus, exc) from None
    return found


def queue_url(sessions: ClientSource, queue: QueueRef) -> str | None:
    """The queue's URL, None if it does not exist."""
    sqs = sessions.client(queue.account, "sqs")
    try:
        return str(sqs.get_queue_url(QueueName=queue.name,
                                     QueueOwnerAWSAccountId=queue.account)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        return None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise _fail(queue.account, "sqs:GetQueueUrl", queue.name, exc) from None


def counts(sessions: ClientSource, queue: QueueRef, url: str) -> dict[str, int]:
    """``messages`` (visible), ``inFlight`` and ``delayed`` of a queue (approximate)."""
    try:
        attributes = sessions.client(queue.account, "sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=list(COUNT_ATTRIBUTES))["Attributes"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise _fail(queue.account, "sqs:GetQueueAttributes", queue.name, exc) from None
    visible, in_flight, delayed = (int(attributes.get(a, 0)) for a in COUNT_ATTRIBUTES)
    return {"messages": visible, "inFlight": in_flight, "delayed": delayed}


def receive_all(sessions: ClientSource, queue: QueueRef, url: str,
                hold_seconds: int = HOLD_SECONDS) -> list[DeadLetter]:
    """Every visible message of the queue, held invisible for ``hold_seconds``.

    Give them back with ``release`` (or delete them); what is neither comes back by
    itself once the hold ends.
    """
    sqs = sessions.client(queue.account, "sqs")
    letters: list[DeadLetter] = []
    seen: set[str] = set()
    try:
        while True:
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=hold_seconds,
                WaitTimeSeconds=0, MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"]).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                return letters
            for message in fresh:
                seen.add(message["MessageId"])
                letters.append(parse_message(queue.account, queue.name, url, message))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        release(sessions, letters)
        raise _fail(queue.account, "sqs:ReceiveMessage", queue.name, exc) from None


def release(sessions: ClientSource, letters: Iterable[DeadLetter]) -> None:
    """Make held messages visible again at once (ChangeMessageVisibility 0)."""
    for letter in letters:
        try:
            sessions.client(letter.account, "sqs").change_message_visibility(
                QueueUrl=letter.queue_url, ReceiptHandle=letter.receipt_handle,
                VisibilityTimeout=0)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
            continue  # it comes back by itself when the hold ends


def delete(sessions: ClientSource, letter: DeadLetter) -> None:
    """Delete one dead letter (after its redrive was accepted)."""
    try:
        sessions.client(letter.account, "sqs").delete_message(
            QueueUrl=letter.queue_url, ReceiptHandle=letter.receipt_handle)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise _fail(letter.account, "sqs:DeleteMessage", letter.queue, exc) from None


def peek_all(sessions: ClientSource, queues: Sequence[QueueRef]) -> list[DeadLetter]:
    """Every dead letter of ``queues``, read and given back (nothing is consumed)."""
    out: list[DeadLetter] = []
    for queue in queues:
        url = queue_url(sessions, queue)
        if url is None:
            continue
        letters = receive_all(sessions, queue, url)
        release(sessions, letters)
        out += letters
    return out

