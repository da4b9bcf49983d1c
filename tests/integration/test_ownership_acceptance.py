"""create and destroy against a fresh local endpoint, as a user runs them (subprocesses).

Follows the acceptance of "create and destroy never touch what the stage does not own":

1. With hand-made, untagged ``global-bus`` (with a rule of its own),
   ``order-service-handler-dlq`` (holding a message), ``order-service-state`` (holding an
   item), ``/aws/events/backbone/global-bus`` and a Logs resource policy of the stage's
   name: ``create --stage local`` exits 1 naming each conflict and changes nothing;
   ``destroy --stage local --yes`` deletes nothing; every hand-made resource and its data
   is still there.
2. After a normal ``create`` and some traffic, ``destroy --yes`` keeps the queues and
   tables that hold data and says so; ``destroy --yes --discard-data`` removes everything
   the stage owns and nothing else; a second ``create`` after destroy works.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from local_up_helpers import (
    ACCOUNT_ROLE,
    BUS_ACCOUNT,
    DELIVERY_ACCOUNT,
    ORDER_ACCOUNT,
    REGION,
    REPO_ROOT,
    clean_env,
)

from infra_bootstrap import names
from tests.polling import wait_until

pytestmark = [pytest.mark.integration]

ACCOUNTS = (BUS_ACCOUNT, ORDER_ACCOUNT, DELIVERY_ACCOUNT)
LOGS_POLICY = names.logs_resource_policy("local")
GLOBAL_LOG = names.event_log_group(names.GLOBAL_BUS)
ORDER_DLQ = names.service_dlq("order-service")
ORDER_TABLE = names.service_table("order-service")
CLI_TIMEOUT = 180.0


class Endpoint:
    """``python -m localcloud --port 0`` in a subprocess: a fresh
    local cloud, nothing in it; boto3 clients acting in its accounts."""

    def __init__(self, tmp_path: Path) -> None:
        self.env = clean_env(tmp_path)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localcloud", "--port", "0"],
            cwd=REPO_ROOT, env=self.env, text=True, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout
        # Two lines: "control secret: ..." then "listening: <url>".
        threading.Thread(target=lambda: [lines.put(stdout.readline()) for _ in range(2)],
                         daemon=True).start()
        secret = lines.get(timeout=120)  # a loaded 2-core machine starts moto slowly
        assert secret.startswith("control secret: "), secret
        #: The header the endpoint's control routes (``/_local/*``) need.
        self.control_headers = {"X-Localcloud-Secret": secret.split(": ", 1)[1].strip()}
        line = lines.get(timeout=30)
        assert line.startswith("listening: http://127.0.0.1:"), line
        self.url = line.split(" ", 1)[1].strip()
        self.env["AWS_ENDPOINT_URL"] = self.url
        self._clients: dict[tuple[str, str], Any] = {}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def client(self, account: str, service: str) -> Any:
        """A client acting in ``account`` (its OrganizationAccountAccessRole)."""
        if (account, service) not in self._clients:
            sts = boto3.client("sts", region_name=REGION, endpoint_url=self.url,
                               aws_access_key_id="user", aws_secret_access_key="user")
            creds = sts.assume_role(RoleArn=names.role_arn(account, ACCOUNT_ROLE),
                                    RoleSessionName="acceptance")["Credentials"]
            self._clients[(account, service)] = boto3.client(
                service, region_name=REGION, endpoint_url=self.url,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"])
        return self._clients[(account, service)]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``python -m infra_bootstrap <args> --stage local`` against this endpoint."""
        return subprocess.run([sys.executable, "-m", "infra_bootstrap", *args, "--stage", "local"],
                              cwd=REPO_ROOT, env=self.env, text=True, capture_output=True,
                              timeout=CLI_TIMEOUT, check=False)


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[Endpoint]:
    running = Endpoint(tmp_path)
    try:
        yield running
    finally:
        running.stop()


# --- What is in the accounts ----------------------------------------------------------------


def _inventory(cloud: Endpoint) -> dict[str, Any]:
    """Every bus, rule, archive, queue, table, log group, Logs policy and `backbone-` role
    of every account, with the data each holds."""
    out: dict[str, Any] = {}
    for account in ACCOUNTS:
        events = cloud.client(account, "events")
        for bus in events.list_event_buses()["EventBuses"]:
            if bus["Name"] == "default":
                continue
            rules = sorted(r["Name"] for r in events.list_rules(EventBusName=bus["Name"])["Rules"]
                           if not r.get("ManagedBy"))
            out[f"{account} bus {bus['Name']}"] = {"rules": rules}
        for archive in events.list_archives()["Archives"]:
            out[f"{account} archive {archive['ArchiveName']}"] = {
                "events": archive["EventCount"]}
        sqs = cloud.client(account, "sqs")
        for url in sqs.list_queues().get("QueueUrls", []):
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
            out[f"{account} queue {url.rsplit('/', 1)[-1]}"] = {
                "messages": int(attributes["ApproximateNumberOfMessages"])}
        ddb = cloud.client(account, "dynamodb")
        for table in ddb.list_tables()["TableNames"]:
            out[f"{account} table {table}"] = {"items": ddb.scan(TableName=table)["Count"]}
        logs = cloud.client(account, "logs")
        for group in logs.describe_log_groups()["logGroups"]:
            name = group["logGroupName"]
            count = len(logs.filter_log_events(logGroupName=name)["events"])
            out[f"{account} log group {name}"] = {"events": count}
        for policy in logs.describe_resource_policies()["resourcePolicies"]:
            sids = [s.get("Sid") for s in json.loads(policy["policyDocument"])["Statement"]]
            out[f"{account} Logs policy {policy['policyName']}"] = {"sids": sids}
        for role in cloud.client(account, "iam").list_roles()["Roles"]:
            if role["RoleName"].startswith("backbone-"):
                out[f"{account} role {role['RoleName']}"] = {}
    return out


def _make_the_five_by_hand(cloud: Endpoint) -> None:
    events = cloud.client(BUS_ACCOUNT, "events")
    events.create_event_bus(Name=names.GLOBAL_BUS)
    events.put_rule(Name="billing-audit", EventBusName=names.GLOBAL_BUS,
                    EventPattern=json.dumps({"source": ["billing"]}))
    sqs = cloud.client(ORDER_ACCOUNT, "sqs")
    url = sqs.create_queue(QueueName=ORDER_DLQ)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="an order someone still needs")
    ddb = cloud.client(ORDER_ACCOUNT, "dynamodb")
    ddb.create_table(TableName=ORDER_TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}])
    ddb.put_item(TableName=ORDER_TABLE, Item={"pk": {"S": "order#1"}, "sk": {"S": "order"}})
    logs = cloud.client(BUS_ACCOUNT, "logs")
    logs.create_log_group(logGroupName=GLOBAL_LOG)
    logs.create_log_stream(logGroupName=GLOBAL_LOG, logStreamName="by-hand")
    logs.put_log_events(logGroupName=GLOBAL_LOG, logStreamName="by-hand", logEvents=[
        {"timestamp": int(time.time() * 1000), "message": "kept by hand"}])
    logs.put_resource_policy(policyName=LOGS_POLICY, policyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Sid": "Route53Queries", "Effect": "Allow",
            "Principal": {"Service": "route53.amazonaws.com"},
            "Action": "logs:PutLogEvents", "Resource": "*"}]}))


THE_FIVE = {
    f"{BUS_ACCOUNT} bus global-bus": {"rules": ["billing-audit"]},
    f"{ORDER_ACCOUNT} queue {ORDER_DLQ}": {"messages": 1},
    f"{ORDER_ACCOUNT} table {ORDER_TABLE}": {"items": 1},
    f"{BUS_ACCOUNT} log group {GLOBAL_LOG}": {"events": 1},
    f"{BUS_ACCOUNT} Logs policy {LOGS_POLICY}": {"sids": ["Route53Queries"]},
}


def test_create_and_destroy_leave_hand_made_resources_and_their_data_alone(
        endpoint: Endpoint) -> None:
    _make_the_five_by_hand(endpoint)
    assert _inventory(endpoint) == THE_FIVE

    created = endpoint.cli("create")

    assert created.returncode == 1, created.stdout + created.stderr
    conflicts = sorted(line for line in created.stderr.splitlines()
                       if line.startswith("CONFLICT"))
    assert conflicts == sorted(
        f"CONFLICT {account} {kind} {name}: exists, not owned by stage local"
        for account, kind, name in [
            (BUS_ACCOUNT, "event_bus", names.GLOBAL_BUS),
            (ORDER_ACCOUNT, "sqs_queue", ORDER_DLQ),
            (ORDER_ACCOUNT, "dynamodb_table", ORDER_TABLE),
            (BUS_ACCOUNT, "log_group", GLOBAL_LOG),
            (BUS_ACCOUNT, "logs_resource_policy", LOGS_POLICY)])
    assert _inventory(endpoint) == THE_FIVE

    destroyed = endpoint.cli("destroy", "--yes")

    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert "stage local: nothing to destroy" in destroyed.stdout
    assert _inventory(endpoint) == THE_FIVE


# --- A normal life: create, traffic, destroy ----------------------------------------------------


def _someone_else_s(cloud: Endpoint) -> dict[str, Any]:
    """Resources of another team in the same accounts, with data: never the stage's."""
    events = cloud.client(BUS_ACCOUNT, "events")
    events.create_event_bus(Name="payments-bus")
    events.put_rule(Name="payments-audit", EventBusName="payments-bus",
                    EventPattern=json.dumps({"source": ["payments"]}))
    sqs = cloud.client(ORDER_ACCOUNT, "sqs")
    url = sqs.create_queue(QueueName="payments-handler-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="a payment")
    ddb = cloud.client(DELIVERY_ACCOUNT, "dynamodb")
    ddb.create_table(TableName="payments-state", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    ddb.put_item(TableName="payments-state", Item={"id": {"S": "payment#1"}})
    cloud.client(BUS_ACCOUNT, "logs").create_log_group(logGroupName="/aws/events/payments")
    return {f"{BUS_ACCOUNT} bus payments-bus": {"rules": ["payments-audit"]},
            f"{ORDER_ACCOUNT} queue payments-handler-dlq": {"messages": 1},
            f"{DELIVERY_ACCOUNT} table payments-state": {"items": 1},
            f"{BUS_ACCOUNT} log group /aws/events/payments": {"events": 0}}


def _traffic(cloud: Endpoint) -> None:
    """What the services do: an order is published and stored, one handler gives up."""
    published = cloud.client(ORDER_ACCOUNT, "events").put_events(Entries=[{
        "EventBusName": names.global_bus_arn(REGION, BUS_ACCOUNT), "Source": "order-service",
        "DetailType": "Order.Created",
        "Detail": json.dumps({"data": {"orderId": "o-1"}, "meta": {"correlationId": "c-1"}})}])
    assert published["FailedEntryCount"] == 0
    cloud.client(ORDER_ACCOUNT, "dynamodb").put_item(
        TableName=ORDER_TABLE, Item={"pk": {"S": "order#o-1"}, "sk": {"S": "order"}})
    # What Lambda's on-failure destination would leave after a handler's last retry.
    sqs = cloud.client(ORDER_ACCOUNT, "sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=ORDER_DLQ)["QueueUrl"],
                     MessageBody=json.dumps({"requestContext": {"condition": "RetriesExhausted"}}))
    delivery_log = names.event_log_group(names.local_bus("delivery-service"))
    logs = cloud.client(DELIVERY_ACCOUNT, "logs")
    wait_until(lambda: logs.filter_log_events(logGroupName=delivery_log)["events"], 30,
               "Order.Created forwarded to the delivery service's bus log")


def test_destroy_keeps_data_until_told_and_a_second_create_works(endpoint: Endpoint) -> None:
    others = _someone_else_s(endpoint)
    created = endpoint.cli("create")
    assert created.returncode == 0, created.stdout + created.stderr
    _traffic(endpoint)
    before = _inventory(endpoint)
    assert before[f"{ORDER_ACCOUNT} queue {ORDER_DLQ}"] == {"messages": 1}
    assert before[f"{ORDER_ACCOUNT} table {ORDER_TABLE}"] == {"items": 1}

    kept = endpoint.cli("destroy", "--yes")

    assert kept.returncode == 1, kept.stdout + kept.stderr
    hint = " (`destroy --discard-data` deletes it with its data)"
    assert f"KEEP {ORDER_ACCOUNT} sqs_queue {ORDER_DLQ}: holds 1 message{hint}" in kept.stdout
    assert (f"KEEP {ORDER_ACCOUNT} dynamodb_table {ORDER_TABLE}: holds at least 1 item{hint}"
            in kept.stdout)
    after = _inventory(endpoint)
    assert after[f"{ORDER_ACCOUNT} queue {ORDER_DLQ}"] == {"messages": 1}
    assert after[f"{ORDER_ACCOUNT} table {ORDER_TABLE}"] == {"items": 1}
    # What held nothing is gone: the empty table and queue of the delivery service, roles.
    assert f"{DELIVERY_ACCOUNT} table {names.service_table('delivery-service')}" not in after
    assert f"{DELIVERY_ACCOUNT} queue {names.service_dlq('delivery-service')}" not in after
    assert not [key for key in after if " role " in key]
    assert {k: after[k] for k in others} == others

    discarded = endpoint.cli("destroy", "--yes", "--discard-data")

    assert discarded.returncode == 0, discarded.stdout + discarded.stderr
    assert _inventory(endpoint) == others

    again = endpoint.cli("create")
    assert again.returncode == 0, again.stdout + again.stderr
    verified = endpoint.cli("verify", "--infra-only")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert {k: v for k, v in _inventory(endpoint).items() if k in others} == others
