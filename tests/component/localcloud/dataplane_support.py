"""Helpers of the local data plane tests: boto3 clients per account, resources, a fake
Lambda worker.

moto's backends are process-wide, so every test works in accounts of its own (random
12-digit ids) and cannot see another test's buses, rules, policies or queues.
"""

from __future__ import annotations

import io
import json
import random
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from localcloud.endpoint import Endpoint

REGION = "eu-west-1"
_SHARED = boto3.Session(region_name=REGION)
EVENTS_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
# The local cloud's plain keys (secret = id): the management account, 123456789012.
PLAIN_KEYS = {"aws_access_key_id": "base", "aws_secret_access_key": "base"}
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def signed_request(url: str, service: str, body: bytes, headers: dict[str, str], *,
                   credentials: dict[str, str] | None = None,
                   amz_date: str | None = None) -> requests.Response:
    """POST a raw request signed by botocore (SigV4), as a client that skips botocore's
    own validation sends it; ``amz_date`` signs it at another time."""
    keys = credentials or PLAIN_KEYS
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    signer = SigV4Auth(Credentials(keys["aws_access_key_id"], keys["aws_secret_access_key"],
                                   keys.get("aws_session_token")), service, REGION)
    if amz_date is None:
        signer.add_auth(request)
    else:
        at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            signer.add_auth(request)
    prepared = request.prepare()
    return requests.post(url, data=prepared.body, headers=dict(prepared.headers), timeout=10)


@dataclass
class Cloud:
    """boto3 clients per account against the endpoint, credentials from STS AssumeRole."""

    endpoint: Endpoint
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    @staticmethod
    def new_account() -> str:
        return str(random.randrange(10**11, 10**12))

    def credentials(self, account: str) -> dict[str, str]:
        """Temporary credentials of the account, from STS AssumeRole of its
        OrganizationAccountAccessRole (which trusts the plain keys' management account)."""
        if account not in self.sessions:
            sts = self.client_with(PLAIN_KEYS, "sts")
            creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/"
                                    "OrganizationAccountAccessRole",
                                    RoleSessionName="component-test")["Credentials"]
            self.sessions[account] = {"aws_access_key_id": creds["AccessKeyId"],
                                      "aws_secret_access_key": creds["SecretAccessKey"],
                                      "aws_session_token": creds["SessionToken"]}
        return self.sessions[account]

    def client_with(self, credentials: dict[str, str], service: str, **options: Any) -> Any:
        # One shared boto3 session: its loader caches service models across clients.
        return _SHARED.client(service, endpoint_url=self.endpoint.url, region_name=REGION,
                              **credentials, **options)

    def client(self, account: str, service: str) -> Any:
        if (account, service) not in self.clients:
            self.clients[(account, service)] = self.client_with(self.credentials(account),
                                                                service)
        return self.clients[(account, service)]

    def idle(self) -> None:
        assert self.endpoint.wait_idle(10), "the router did not become idle"

    # -- resources -------------------------------------------------------------------

    def bus(self, account: str, name: str, *, policy: dict[str, Any] | None = None) -> str:
        events = self.client(account, "events")
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        if policy is not None:
            events.put_permission(EventBusName=name, Policy=json.dumps(policy))
        return arn

    def rule(self, account: str, bus: str, name: str, targets: list[dict[str, Any]],
             pattern: dict[str, Any] | None = None) -> str:
        events = self.client(account, "events")
        arn = events.put_rule(Name=name, EventBusName=bus,
                              EventPattern=json.dumps(pattern or {"source": [{"prefix": ""}]})
                              )["RuleArn"]
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        return arn

    def queue(self, account: str, name: str, *, allow_rule: str | None = None) -> tuple[str, str]:
        """(url, arn); ``allow_rule`` adds the queue policy EventBridge needs for that rule."""
        sqs = self.client(account, "sqs")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]
                                       )["Attributes"]["QueueArn"]
        if allow_rule is not None:
            self.allow_events_on_queue(account, url, arn, allow_rule)
        return url, arn

    def allow_events_on_queue(self, account: str, url: str, arn: str, rule_arn: str) -> None:
        # Source: EventBridge User Guide, "Amazon SQS permissions".
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "events", "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]}
        self.client(account, "sqs").set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(policy)})

    def messages(self, account: str, url: str) -> list[dict[str, Any]]:
        """Every message now in the queue (received once, not deleted)."""
        sqs = self.client(account, "sqs")
        found: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                        MessageAttributeNames=["All"],
                                        VisibilityTimeout=300).get("Messages", [])
            if not batch:
                return found
            found.extend(batch)

    def log_messages(self, account: str, group: str) -> list[str]:
        logs = self.client(account, "logs")
        return [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]

    def logs_policy(self, account: str) -> None:
        """The CloudWatch Logs resource policy EventBridge needs, in the two-statement
        shape infra_bootstrap/desired.py writes: EventBridge sends aws:SourceArn (and
        aws:SourceAccount) with logs:PutLogEvents only, so only that statement may carry
        a condition on them (EventBridge User Guide, "CloudWatch Logs permissions";
        aws-samples/serverless-patterns PR #618)."""
        groups = f"arn:aws:logs:{REGION}:{account}:log-group:/aws/events/*"
        principal = {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]}
        self.put_logs_policy(account, [
            {"Sid": "CreateStreams", "Effect": "Allow", "Principal": principal,
             "Action": "logs:CreateLogStream", "Resource": groups},
            {"Sid": "PutEventsOfOurRules", "Effect": "Allow", "Principal": principal,
             "Action": "logs:PutLogEvents", "Resource": groups,
             "Condition": {"StringEquals": {"aws:SourceAccount": account},
                           "ArnLike": {"aws:SourceArn":
                                       f"arn:aws:events:{REGION}:{account}:rule/*"}}}])

    def put_logs_policy(self, account: str, statements: list[dict[str, Any]]) -> None:
        policy = {"Version": "2012-10-17", "Statement": statements}
        self.client(account, "logs").put_resource_policy(
            policyName="events-to-logs", policyDocument=json.dumps(policy))

    def function(self, account: str, name: str, *, rule_arn: str | None = None,
                 worker: FakeWorker | None = None, timeout: int = 3) -> str:
        """A Lambda function in moto, invocable by ``rule_arn``, run by ``worker``."""
        iam = self.client(account, "iam")
        try:
            role = iam.create_role(RoleName="fn-role",
                                   AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]
        except iam.exceptions.EntityAlreadyExistsException:
            role = iam.get_role(RoleName="fn-role")["Role"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
        lam = self.client(account, "lambda")
        arn = lam.create_function(FunctionName=name, Runtime="python3.11", Role=role["Arn"],
                                  Handler="handler.handler", Timeout=timeout,
                                  Code={"ZipFile": code.getvalue()})["FunctionArn"]
        if rule_arn is not None:
            lam.add_permission(FunctionName=name, StatementId="events",
                               Action="lambda:InvokeFunction",
                               Principal="events.amazonaws.com", SourceArn=rule_arn)
        if worker is not None:
            self.endpoint.register_lambda(arn, worker.url)
        return arn


def put(events: Any, bus: str, *, source: str = "test.source", detail_type: str = "Thing.Done",
        detail: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    entry = {"EventBusName": bus, "Source": source, "DetailType": detail_type,
             "Detail": json.dumps(detail or {"n": 1}), **extra}
    return events.put_events(Entries=[entry])


# --- a fake Lambda worker ------------------------------------------------------------------


Behaviour = Callable[[dict[str, Any]], tuple[int, dict[str, str], Any]]


def succeed(event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    return 200, {}, {"ok": True}


def fail(event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    return 200, {"X-Amz-Function-Error": "Unhandled"}, {
        "errorMessage": "boom", "errorType": "ValueError", "stackTrace": ["handler.py:1"]}


@dataclass
class FakeWorker:
    """A worker process stand-in: answers Lambda Invoke requests per function name."""

    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def calls_to(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(body) for fn, body in list(self.calls) if fn == name]

    def start(self) -> FakeWorker:
        worker = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = self.path.split("/")  # /2015-03-31/functions/<name>/invocations
                name = parts[3]
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                worker.calls.append((name, body))
                status, headers, payload = worker.behaviours.get(name, succeed)(json.loads(body))
                data = json.dumps(payload).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
