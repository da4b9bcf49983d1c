"""Helpers of the local data plane tests: boto3 clients per account, resources, fake Lambda
workers (``FakeFunctions``, an endpoint's invoker).

moto's backends are process-wide, so every test works in accounts of its own (random
12-digit ids) and cannot see another test's buses, rules, policies or queues.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from unittest import mock

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from localcloud import arns
from localcloud.endpoint import Endpoint
from localcloud.functions import FunctionUnreachable, InvocationResult

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
            functions = self.endpoint.router.invoker if self.endpoint.router else None
            assert isinstance(functions, FakeFunctions), "the endpoint needs FakeFunctions()"
            functions.give(arn, worker)
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
    """A stand-in for a function's code: answers invocations per function name, in process,
    as the Lambda runtime would (a result, or a function error in ``X-Amz-Function-Error``).
    A stopped worker is unreachable, as a runtime that cannot start the function."""

    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    stopped: bool = False

    def calls_to(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(body) for fn, body in list(self.calls) if fn == name]

    def stop(self) -> None:
        self.stopped = True

    def run(self, name: str, payload: str) -> InvocationResult:
        if self.stopped:
            raise FunctionUnreachable("worker", "(fake)", "connection refused")
        self.calls.append((name, payload))
        status, headers, result = self.behaviours.get(name, succeed)(json.loads(payload))
        return InvocationResult(status, result, headers.get("X-Amz-Function-Error"))


class FakeFunctions:
    """The endpoint's FunctionInvoker in these tests: each function runs on the
    :class:`FakeWorker` a test gave it; a function without one is unavailable."""

    def __init__(self) -> None:
        self.workers: dict[str, FakeWorker] = {}

    def give(self, function_arn: str, worker: FakeWorker) -> None:
        self.workers[function_arn] = worker

    def unavailable(self, function_arn: str) -> str | None:
        return None if function_arn in self.workers else f"no fake worker for {function_arn}"

    def invoke(self, function_arn: str, payload: str, *, timeout_s: float,
               request_id: str) -> InvocationResult:
        worker = self.workers.get(function_arn)
        if worker is None:
            raise FunctionUnreachable("worker", "(fake)", f"no fake worker for {function_arn}")
        name, _ = arns.function_name(arns.parse(function_arn))
        return worker.run(name, payload)
