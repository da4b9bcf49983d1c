"""``python -m localcloud --state-dir DIR``: resources, messages, log events and a retry
still waiting survive a restart; a state file that cannot be used is one line, exit 2."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from dataplane_support import PLAIN_KEYS, REGION

from tests.polling import wait_until

REPO = Path(__file__).resolve().parents[3]
DEADLINE_S = 180
STATE_FILE = "localcloud-state.pickle"
SLOW = ("--time-scale", "5")
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


@dataclass
class Running:
    process: subprocess.Popen[str]
    url: str
    secret: str

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, **PLAIN_KEYS)

    def stats(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.url}/_local/stats", timeout=30,
                                 headers={"X-Localcloud-Secret": self.secret}).json())

    def stop(self) -> tuple[int, list[str]]:
        """SIGTERM; the exit code and what it printed after its listening line."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=DEADLINE_S)
        assert self.process.stdout is not None
        return code, self.process.stdout.read().splitlines()


@contextmanager
def localcloud(*args: str) -> Iterator[Running]:
    process = subprocess.Popen([sys.executable, "-m", "localcloud", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    try:
        assert process.stdout is not None
        secret = process.stdout.readline().strip().removeprefix("control secret: ")
        listening = re.fullmatch(r"listening: (\S+)", process.stdout.readline().strip())
        assert listening, process.stderr.read() if process.stderr else ""
        yield Running(process, listening.group(1), secret)
    finally:
        process.kill()
        process.wait()


def test_resources_messages_log_events_and_a_waiting_retry_survive_a_restart(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    # One AWS second is 5 s here: the first retry of the failing target (1 s of back-off)
    # is still waiting when the stop comes.
    with localcloud("--state-dir", str(state), "--drain-seconds", "0", *SLOW) as first:
        sqs, logs, events = first.client("sqs"), first.client("logs"), first.client("events")
        queue = sqs.create_queue(QueueName="kept")["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="still here")
        logs.create_log_group(logGroupName="kept")
        logs.create_log_stream(logGroupName="kept", logStreamName="s")
        logs.put_log_events(logGroupName="kept", logStreamName="s",
                            logEvents=[{"timestamp": int(time.time() * 1000),
                                        "message": "logged"}])
        # A rule whose target fails with a retriable error (a function the local runtime
        # cannot run: CONNECTION_FAILURE), so a retry waits in the scheduler at stop.
        rule = events.put_rule(Name="to-node",
                               EventPattern=json.dumps({"source": ["kept"]}))["RuleArn"]
        role = first.client("iam").create_role(
            RoleName="fn", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
        node = first.client("lambda").create_function(
            FunctionName="node", Runtime="nodejs20.x", Handler="index.h", Role=role,
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})["FunctionArn"]
        first.client("lambda").add_permission(
            FunctionName="node", StatementId="events", Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com", SourceArn=rule)
        events.put_targets(Rule="to-node", Targets=[{"Id": "1", "Arn": node}])
        events.put_events(Entries=[{"Source": "kept", "DetailType": "T", "Detail": "{}"}])
        wait_until(lambda: first.stats()["stats"]["retried"] >= 1, 60, "a first retry")
        code, printed = first.stop()

    assert code == 0
    [line] = printed
    assert re.fullmatch(rf"stopped with 0 deliveries pending, 1 retry scheduled \(kept in "
                        rf"{re.escape(str(state / STATE_FILE))}\)", line), line

    with localcloud("--state-dir", str(state), "--drain-seconds", "0", *SLOW) as second:
        sqs = second.client("sqs")
        received = sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName="kept")["QueueUrl"])
        logged = second.client("logs").get_log_events(logGroupName="kept", logStreamName="s")
        rules = second.client("events").list_rules()["Rules"]
        # The kept retry runs in the new process and fails again: it is retried there.
        wait_until(lambda: second.stats()["stats"]["retried"] >= 1, 60,
                   "the kept retry to run after the restart")
        second.stop()

    assert [m["Body"] for m in received["Messages"]] == ["still here"]
    assert [e["message"] for e in logged["events"]] == ["logged"]
    assert [r["Name"] for r in rules] == ["to-node"]


def test_a_corrupt_state_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / STATE_FILE).write_bytes(b"garbage")

    finished = subprocess.run(
        [sys.executable, "-m", "localcloud", "--port", "0", "--state-dir", str(state)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO,
        timeout=DEADLINE_S)

    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        f"error: state file {state / STATE_FILE} is corrupt or not a local cloud state file "
        "(UnpicklingError): start with another --state-dir, or move the file away to start "
        "empty (it is not deleted)"]

