"""Redrive: each dead letter back to where it failed; deleted only once that was accepted.

- A failed bus forward (EventBridge DLQ message whose ``TARGET_ARN`` is an event bus) is
  put on that bus with PutEvents, as ``names.REDRIVE_ROLE`` assumed in the bus account
  (the forwarding rule's own role trusts only EventBridge). PutEvents makes a new event:
  it keeps ``source``, ``detail-type``, ``detail``, ``resources`` and ``time``; ``id`` and
  ``account`` are new (EventBridge sets them; API reference, ``PutEventsRequestEntry``).
  The handlers key their idempotency on the data (the order), so a chain keeps working.
- A failed Lambda invocation (Lambda's invocation record from an on-failure destination,
  or an EventBridge DLQ message whose target is a function) is invoked again
  asynchronously (``Invoke`` with ``InvocationType="Event"``) with the original event,
  so Lambda's retries, destinations and the handler's idempotency all apply. Source:
  Lambda API reference, Invoke (``Event``: 202 once queued).

A message is deleted only after PutEvents reported no failed entry, or Invoke answered
202; anything else gives the message back (visible at once) and is reported.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import botocore.exceptions

from infra_bootstrap import names
from infra_bootstrap.operate import queues
from infra_bootstrap.operate.deadletters import BUS, FUNCTION, DeadLetter
from infra_bootstrap.sessions import AccountSessions, new_session
from infra_bootstrap.topology import Stage

REDRIVE_SESSION_NAME = "backbone-redrive"


@dataclass(frozen=True)
class Outcome:
    """What happened to one dead letter."""

    letter: DeadLetter
    done: bool
    action: str  # "PutEvents on <bus ARN>" / "Invoke (Event) <function ARN>"
    error: str = ""

    def line(self, dry_run: bool = False) -> str:
        where = f"{self.letter.account}/{self.letter.queue}"
        what = f"{self.letter.detail_type} {self.letter.event_id or self.letter.message_id}"
        if dry_run:
            return f"would redrive {what} from {where}: {self.action}"
        if self.done:
            return f"redriven {what} from {where}: {self.action}"
        return f"NOT redriven {what} from {where} (message kept): {self.action}: {self.error}"


def plan_action(letter: DeadLetter) -> str | None:
    """What a redrive of ``letter`` does, or None if it cannot go anywhere. Pure.

    >>> from infra_bootstrap.operate.deadletters import Destination
    >>> plan_action(DeadLetter("1", "q", "u", "m", "r", "lambda", {"id": "e"}, "E", "",
    ...     Destination("function", "arn:aws:lambda:eu-west-1:1:function:f:$LATEST")))
    'Invoke (Event) arn:aws:lambda:eu-west-1:1:function:f'
    """
    target = letter.destination
    if target is None or not letter.event:
        return None
    if target.kind == BUS:
        return f"PutEvents on {target.arn}"
    if target.kind == FUNCTION:
        account, name = names.lambda_function_of(target.arn)
        parsed = names.parse_arn(target.arn)
        return ("Invoke (Event) "
                + names.lambda_function_arn(parsed.region, account, name))
    return None


def put_events_entry(event: dict[str, Any], bus_arn: str) -> dict[str, Any]:
    """The PutEvents entry that puts ``event`` back on ``bus_arn``. Pure.

    >>> put_events_entry({"source": "s", "detail-type": "T", "detail": {"a": 1},
    ...     "time": "2026-01-01T00:00:00Z", "resources": []}, "arn:bus")["Detail"]
    '{"a": 1}'
    """
    entry: dict[str, Any] = {"EventBusName": bus_arn, "Source": event.get("source", ""),
                             "DetailType": event.get("detail-type", ""),
                             "Detail": json.dumps(event.get("detail", {})),
                             "Resources": list(event.get("resources") or [])}
    if event.get("time"):
        with contextlib.suppress(ValueError):
            entry["Time"] = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    return entry


class Redriver:
    """Sends dead letters back; one redrive-role session per run, opened on first need."""

    def __init__(self, stage: Stage, sessions: AccountSessions) -> None:
        self.stage = stage
        self.sessions = sessions
        self._redrive_session: boto3.Session | None = None

    def _redrive_events(self) -> Any:
        if self._redrive_session is None:
            sts = self.sessions.client(self.stage.bus_account, "sts")
            creds = sts.assume_role(RoleArn=names.redrive_role_arn(self.stage.bus_account),
                                    RoleSessionName=REDRIVE_SESSION_NAME)["Credentials"]
            self._redrive_session = new_session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"], region_name=self.stage.region)
        return self._redrive_session.client("events", region_name=self.stage.region)

    def _send(self, letter: DeadLetter) -> str:
        """Send one letter back; '' when accepted, else why not."""
        target = letter.destination
        assert target is not None
        if target.kind == BUS:
            result = self._redrive_events().put_events(
                Entries=[put_events_entry(dict(letter.event), target.arn)])
            if result.get("FailedEntryCount"):
                entry = result["Entries"][0]
                return f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}"
            return ""
        account, name = names.lambda_function_of(target.arn)
        answer = self.sessions.client(account, "lambda").invoke(
            FunctionName=name, InvocationType="Event",
            Payload=json.dumps(dict(letter.event)).encode())
        status = int(answer.get("StatusCode", 0))
        return "" if status == 202 else f"Invoke answered {status}, not 202"

    def redrive(self, letter: DeadLetter) -> Outcome:
        """Send ``letter`` back and delete it if accepted; give it back otherwise."""
        action = plan_action(letter)
        if action is None:
            queues.release(self.sessions, [letter])
            return Outcome(letter, False, "nowhere to send it",
                           "no event bus or function as its destination")
        try:
            error = self._send(letter)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            error = " ".join(str(exc).split())
        if error:
            queues.release(self.sessions, [letter])
            return Outcome(letter, False, action, error)
        queues.delete(self.sessions, letter)
        return Outcome(letter, True, action)


def redrive_queues(stage: Stage, sessions: AccountSessions, chosen: Sequence[queues.QueueRef],
                   *, dry_run: bool, report: Callable[[Outcome], None]) -> list[Outcome]:
    """Redrive every message of ``chosen`` (or only say what would happen)."""
    redriver = Redriver(stage, sessions)
    outcomes: list[Outcome] = []
    for queue in chosen:
        url = queues.queue_url(sessions, queue)
        if url is None:
            continue
        letters = queues.receive_all(sessions, queue, url)
        if dry_run:
            queues.release(sessions, letters)
            for letter in letters:
                action = plan_action(letter) or "nowhere to send it: kept"
                outcome = Outcome(letter, False, action)
                outcomes.append(outcome)
                report(outcome)
            continue
        for index, letter in enumerate(letters):
            try:
                outcome = redriver.redrive(letter)
            except BaseException:
                queues.release(sessions, letters[index:])
                raise
            outcomes.append(outcome)
            report(outcome)
    return outcomes
