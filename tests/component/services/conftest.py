"""The services against moto: their table, the global bus and an observer queue.

moto resolves a ``PutEvents`` EventBusName ARN in the *caller's* account (it does not
route across accounts), so here the service runs with credentials of the bus account
(assumed through STS, as on AWS), and its table lives there too. Cross-account routing
is the local cloud's job and is tested by the integration tests.

Published events are observed as EventBridge delivers them: a rule on the global bus
targets an SQS queue, and :meth:`Backbone.published` reads the queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client

from backbone import aws as backbone_aws
from backbone import observability
from infra_bootstrap import names
from infra_bootstrap.service_apps import load_app, load_module
from tests.tables import create_table

REGION = "eu-west-1"
BUS_ACCOUNT = "111111111111"


@dataclass
class Backbone:
    """Handles on the moto resources one test uses."""

    session: boto3.Session
    bus_arn: str
    queue_url: str

    def published(self) -> list[dict[str, Any]]:
        """Every event that reached the global bus since the last call (full envelopes)."""
        sqs = self.session.client("sqs")
        events: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url,
                                   ReceiptHandle=message["ReceiptHandle"])

    def table(self, service: str) -> Any:
        return self.session.resource("dynamodb").Table(names.service_table(service))


def _assume(account: str) -> boto3.Session:
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=names.role_arn(account, "OrganizationAccountAccessRole"),
        RoleSessionName="component-test")["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"], region_name=REGION)


@pytest.fixture
def backbone(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backbone]:
    """Global bus + observer queue + both service tables, in the bus account."""
    session = _assume(BUS_ACCOUNT)
    events = session.client("events")
    bus_arn = events.create_event_bus(Name=names.GLOBAL_BUS)["EventBusArn"]
    assert bus_arn == names.bus_arn(REGION, BUS_ACCOUNT, names.GLOBAL_BUS)
    sqs = session.client("sqs")
    queue_url = sqs.create_queue(QueueName="observer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="observe-all", EventBusName=names.GLOBAL_BUS,
                    EventPattern=json.dumps({"source": ["order-service", "delivery-service"]}))
    events.put_targets(Rule="observe-all", EventBusName=names.GLOBAL_BUS,
                       Targets=[{"Id": "observer", "Arn": queue_arn}])
    for service in ("order-service", "delivery-service"):
        create_table(session.client("dynamodb"), names.service_table(service))

    credentials = session.get_credentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("GLOBAL_BUS_ARN", bus_arn)
    monkeypatch.setenv("DELIVERY_DELAY_SECONDS", "0")
    backbone_aws.reset_clients()
    observability.reset()
    yield Backbone(session=session, bus_arn=bus_arn, queue_url=queue_url)
    backbone_aws.reset_clients()
    observability.reset()


@pytest.fixture
def use_service(backbone: Backbone, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set the environment configure gives one service (switch services mid-test)."""

    def switch(service: str) -> None:
        monkeypatch.setenv("SERVICE_NAME", service)
        monkeypatch.setenv("TABLE_NAME", names.service_table(service))
        observability.reset()  # one service per process on Lambda; two in these tests

    return switch


@pytest.fixture
def order_client(use_service: Any, tmp_path: Path) -> Client:
    """chalice.test.Client of order-service (no .chalice config: env comes from here)."""
    use_service("order-service")
    return Client(load_app("order-service"), stage_name="test", project_dir=str(tmp_path))


@pytest.fixture
def delivery_client(use_service: Any, tmp_path: Path) -> Client:
    return Client(load_app("delivery-service"), stage_name="test", project_dir=str(tmp_path))


@pytest.fixture
def order_module() -> Any:
    return load_module("order-service")


@pytest.fixture
def delivery_module() -> Any:
    return load_module("delivery-service")
