"""Output is plain text, terminal or pipe: no escape code ever reaches stdout.

What the commands print includes what publishers chose (an event's detail-type, source,
ids; a handler's error message). Written to a pipe (CliRunner's stdout is not a TTY),
every control character of it shows as an escape, so `grep`, a file or a terminal
reading the output later get the characters, not their effect.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import load_stage
from tests.component.test_bootstrap import cli

BUS = "111111111111"
ORDER = "222222222222"
REGION = "eu-west-1"
# Recolour, retitle the terminal, rewind the line, reorder it (a bidi override).
HOSTILE = "Order.Created\x1b[31m\x1b]0;owned\x07\r\u202egnp.exe"
SHOWN = "Order.Created\\x1b[31m\\x1b]0;owned\\x07\\x0d\\u202egnp.exe"


@pytest.fixture
def created(aws: None, topology_file: Path) -> Path:
    assert cli(topology_file, "create").exit_code == 0
    return topology_file


def _no_escape_codes(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "\u202e" not in text


def test_events_tail_prints_a_hostile_detail_type_as_visible_escapes(created: Path) -> None:
    clients = AccountSessions(load_stage("test", created)).client
    group = "/aws/events/backbone/global-bus"
    logs = clients(BUS, "logs")
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    event = {"id": "e1", "detail-type": HOSTILE, "source": "order-service", "account": ORDER,
             "time": "2026-01-01T00:00:00Z", "detail": {"data": {"orderId": "o\x1b[2J1"}}}
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": int(time.time() * 1000), "message": json.dumps(event)}])

    text = cli(created, "events", "tail", "--since", "10m")
    as_json = cli(created, "events", "tail", "--since", "10m", "--json")

    assert text.exit_code == 0, text.output
    _no_escape_codes(text.output)
    assert f"global-bus {SHOWN} from order-service ({ORDER}) id=e1 order=o\\x1b[2J1" \
        in text.output
    _no_escape_codes(as_json.output)
    assert json.loads(as_json.output)["event"]["detail-type"] == HOSTILE


def test_dlq_show_prints_a_hostile_error_message_as_visible_escapes(created: Path) -> None:
    sqs = AccountSessions(load_stage("test", created)).client(ORDER, "sqs")
    url = sqs.get_queue_url(QueueName="order-service-handler-dlq")["QueueUrl"]
    function = f"arn:aws:lambda:{REGION}:{ORDER}:function:order-service-test-on_x"
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({
        "requestContext": {"condition": "RetriesExhausted", "functionArn": function,
                           "approximateInvokeCount": 3},
        "requestPayload": {"id": "e2", "detail-type": HOSTILE},
        "responsePayload": {"errorType": "ValueError", "errorMessage": "bad \x1b[5mblink"}}))

    shown = cli(created, "dlq", "show", "order-service-handler-dlq")

    assert shown.exit_code == 0, shown.output
    _no_escape_codes(shown.output)
    assert "1 x RetriesExhausted: ValueError: bad \\x1b[5mblink" in shown.output
    assert f"  {SHOWN} id=e2" in shown.output
