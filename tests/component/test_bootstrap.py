"""create / verify / plan / destroy against moto, accounts reached through STS AssumeRole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.client
import botocore.loaders
import botocore.session
import pytest
from click.testing import CliRunner, Result

from infra_bootstrap.cli import main
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import Stage, load_stage
from tests.component.conftest import ApiCalls
from tests.topologies import (
    DELIVERY_SERVICE,
    ORDER_SERVICE,
    ROLE,
    stage_toml,
    write_topology,
)

REGION = "eu-west-1"
BUS, ORDER, DELIVERY = "111111111111", "222222222222", "333333333333"
TAGS = {"backbone:project": "cross-account-backbone", "backbone:stage": "test"}
def cli(config: Path, *args: str, stage: str = "test", input: str | None = None) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(config), "--stage", stage],
                              input=input)


@pytest.fixture
def stage(topology_file: Path) -> Stage:
    return load_stage("test", topology_file)


@pytest.fixture
def clients(stage: Stage) -> Any:
    sessions = AccountSessions(stage)
    return sessions.client


@pytest.fixture
def created(aws: None, topology_file: Path) -> Path:
    result = cli(topology_file, "create")
    assert result.exit_code == 0, result.output
    return topology_file


def _event_tags(client: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in client.list_tags_for_resource(ResourceARN=arn)["Tags"]}


def _queue(client: Any, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    url = client.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return json.loads(attributes["Policy"]), client.list_queue_tags(QueueUrl=url)["Tags"]


# --- create ---------------------------------------------------------------------------


def test_create_builds_the_bus_account(created: Path, clients: Any) -> None:
    events = clients(BUS, "events")
    bus = events.describe_event_bus(Name="global-bus")
    policy = json.loads(bus["Policy"])
    assert [(s["Principal"], s["Action"], s["Resource"], s["Condition"])
            for s in policy["Statement"]] == [
        ({"AWS": f"arn:aws:iam::{account}:root"}, "events:PutEvents", bus["Arn"],
         {"ForAllValues:StringEquals": {"events:source": [source]},
          "Null": {"events:source": "false"}})
        for account, source in ((ORDER, "order-service"), (DELIVERY, "delivery-service"))]
    assert _event_tags(events, bus["Arn"]) == TAGS

    rules = {r["Name"]: r for r in events.list_rules(EventBusName="global-bus")["Rules"]}
    # EventBridge adds a managed rule feeding the archive.
    assert set(rules) == {"log-all-events", "global-to-order-service",
                          "global-to-delivery-service", "Events-Archive-global-bus-archive"}
    assert json.loads(rules["global-to-order-service"]["EventPattern"]) == {
        "source": [{"anything-but": "order-service"}]}
    assert json.loads(rules["log-all-events"]["EventPattern"]) == {"source": [{"prefix": ""}]}
    assert _event_tags(events, rules["global-to-order-service"]["Arn"]) == TAGS
    [target] = events.list_targets_by_rule(Rule="global-to-order-service",
                                           EventBusName="global-bus")["Targets"]
    assert target == {
        "Id": "local-bus",
        "Arn": f"arn:aws:events:{REGION}:{ORDER}:event-bus/local-bus-order-service",
        "RoleArn": f"arn:aws:iam::{BUS}:role/backbone-forward-to-order-service",
        "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
        "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:{BUS}:global-bus-forward-dlq"}}
    [log_target] = events.list_targets_by_rule(Rule="log-all-events",
                                               EventBusName="global-bus")["Targets"]
    assert log_target == {"Id": "event-log", "Arn": f"arn:aws:logs:{REGION}:{BUS}:log-group:"
                                                     "/aws/events/backbone/global-bus"}

    archive = events.describe_archive(ArchiveName="global-bus-archive")
    assert archive["EventSourceArn"] == bus["Arn"]
    assert archive["RetentionDays"] == 7

    iam = clients(BUS, "iam")
    role = iam.get_role(RoleName="backbone-forward-to-order-service")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": BUS}, "ArnEquals": {
            "aws:SourceArn": rules["global-to-order-service"]["Arn"]}}}]
    assert {t["Key"]: t["Value"] for t in role["Tags"]} == TAGS
    assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == [
        "put-events-to-local-bus"]
    inline = iam.get_role_policy(RoleName=role["RoleName"],
                                 PolicyName="put-events-to-local-bus")["PolicyDocument"]
    assert inline["Statement"] == [{
        "Effect": "Allow", "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:{REGION}:{ORDER}:event-bus/local-bus-order-service"}]

    dlq_policy, dlq_tags = _queue(clients(BUS, "sqs"), "global-bus-forward-dlq")
    [statement] = dlq_policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert sorted(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(
        [rules["global-to-order-service"]["Arn"], rules["global-to-delivery-service"]["Arn"]])
    assert dlq_tags == TAGS

    logs = clients(BUS, "logs")
    [group] = logs.describe_log_groups(logGroupNamePrefix="/aws/events/")["logGroups"]
    assert (group["logGroupName"], group["retentionInDays"]) == (
        "/aws/events/backbone/global-bus", 7)
    [resource_policy] = logs.describe_resource_policies()["resourcePolicies"]
    document = json.loads(resource_policy["policyDocument"])
    assert [s["Action"] for s in document["Statement"]] == [
        "logs:CreateLogStream", "logs:PutLogEvents"]
    assert "Condition" not in document["Statement"][0]
    assert document["Statement"][1]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": [rules["log-all-events"]["Arn"]]}}


@pytest.mark.parametrize(("account", "service"), [(ORDER, "order-service"),
                                                  (DELIVERY, "delivery-service")])
def test_create_builds_each_service_account(created: Path, clients: Any, account: str,
                                            service: str) -> None:
    events = clients(account, "events")
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]
            if b["Name"] != "default"] == [f"local-bus-{service}"]
    bus = events.describe_event_bus(Name=f"local-bus-{service}")
    statement, redrive = json.loads(bus["Policy"])["Statement"]
    assert redrive["Principal"] == {"AWS": f"arn:aws:iam::{BUS}:role/backbone-redrive"}
    assert statement["Principal"] == {
        "AWS": f"arn:aws:iam::{BUS}:role/backbone-forward-to-{service}"}
    assert statement["Condition"]["ArnEquals"] == {
        "aws:SourceArn": f"arn:aws:events:{REGION}:{BUS}:rule/global-bus/global-to-{service}"}
    [rule] = events.list_rules(EventBusName=f"local-bus-{service}")["Rules"]
    assert rule["Name"] == "log-all-events"

    dlq_policy, dlq_tags = _queue(clients(account, "sqs"), f"{service}-handler-dlq")
    assert dlq_policy["Statement"][0]["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:events:{REGION}:{account}:rule/local-bus-{service}/*"}
    assert dlq_tags == TAGS

    ddb = clients(account, "dynamodb")
    table = ddb.describe_table(TableName=f"{service}-state")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                  {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert ddb.describe_time_to_live(TableName=f"{service}-state")["TimeToLiveDescription"] \
        == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    backups = ddb.describe_continuous_backups(TableName=f"{service}-state")
    assert backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
        "PointInTimeRecoveryStatus"] == "ENABLED"
    assert {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(
        ResourceArn=table["TableArn"])["Tags"]} == TAGS

    logs = clients(account, "logs")
    [group] = logs.describe_log_groups(logGroupNamePrefix="/aws/events/")["logGroups"]
    assert group["logGroupName"] == f"/aws/events/backbone/local-bus-{service}"
    assert logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"] == TAGS
    assert [p["policyName"] for p in logs.describe_resource_policies()["resourcePolicies"]] \
        == ["backbone-test-eventbridge-to-event-logs"]
    # Nothing of the bus account leaks into a service account.
    assert clients(account, "iam").list_roles()["Roles"] == []


def test_second_create_makes_no_mutating_call(created: Path, api_calls: ApiCalls) -> None:
    result = cli(created, "create")

    assert result.exit_code == 0, result.output
    assert "nothing changed" in result.output
    assert api_calls.calls, "the second create did read the accounts"
    assert api_calls.mutating == []


def test_plan_groups_calls_by_account_and_changes_nothing(aws: None, topology_file: Path,
                                                          api_calls: ApiCalls) -> None:
    result = cli(topology_file, "plan")

    assert result.exit_code == 0, result.output
    assert api_calls.mutating == []
    headers = [line for line in result.output.splitlines() if line.startswith("account ")]
    assert [h.split(":")[0] for h in headers] == [
        f"account {BUS} (bus)", f"account {ORDER} (order-service)",
        f"account {DELIVERY} (delivery-service)"]
    as_json = json.loads(cli(topology_file, "plan", "--json").output)
    first = as_json["accounts"][0]["calls"][0]
    assert (first["account"], first["api"]) == (BUS, "iam:CreateRole")


def test_plan_json_is_empty_once_created(created: Path) -> None:
    plan = json.loads(cli(created, "plan", "--json").output)

    assert plan == {"stage": "test", "accounts": [
        {"account": account, "calls": [], "conflicts": [], "kept": []}
        for account in (BUS, ORDER, DELIVERY)]}


# --- verify and drift ------------------------------------------------------------------


def test_verify_is_clean_after_create(created: Path) -> None:
    result = cli(created, "verify", "--infra-only")

    assert result.exit_code == 0, result.output
    assert "everything is as desired" in result.output


def test_drift_is_reported_then_repaired(created: Path, clients: Any) -> None:
    bus_events = clients(BUS, "events")
    bus_events.put_rule(Name="global-to-order-service", EventBusName="global-bus",
                        EventPattern=json.dumps({"source": ["delivery-service"]}),
                        Description="Events of other services to order-service's local bus")
    clients(ORDER, "events").remove_targets(Rule="log-all-events",
                                            EventBusName="local-bus-order-service",
                                            Ids=["event-log"])
    bus_events.remove_permission(EventBusName="global-bus",
                                 StatementId=f"backbone-test-PublishFrom{DELIVERY}")

    report = cli(created, "verify", "--infra-only")

    assert report.exit_code == 1
    assert f"account {BUS}: update pattern of rule global-bus/global-to-order-service" \
        in report.output
    assert (f"account {ORDER}: put targets event-log (missing) on rule "
            "local-bus-order-service/log-all-events") in report.output
    assert (f"account {BUS}: put statements backbone-test-PublishFrom{DELIVERY} (new) in the "
            "policy of event bus global-bus") in report.output

    repair = cli(created, "create")
    assert repair.exit_code == 0, repair.output
    assert "3 change(s) applied" in repair.output
    after = cli(created, "verify", "--infra-only")
    assert after.exit_code == 0, after.output


def test_a_statement_someone_added_to_our_bus_policy_stays_and_is_reported(
        created: Path, clients: Any, api_calls: ApiCalls) -> None:
    bus_events = clients(BUS, "events")
    bus_events.put_permission(EventBusName="global-bus", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Sid": "Anyone", "Effect": "Allow", "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": f"arn:aws:events:{REGION}:{BUS}:event-bus/global-bus"}]}))

    report = cli(created, "verify", "--infra-only")
    api_calls.calls.clear()
    again = cli(created, "create")

    assert report.exit_code == 1
    assert (f"account {BUS}: event bus global-bus: foreign addition: policy statement Anyone, "
            "not made by stage test (`create` leaves it in place)") in report.output
    assert (f"account {BUS}: event bus global-bus: statement Anyone allows any principal (*)"
            in report.output)
    assert again.exit_code == 0, again.output
    assert api_calls.mutating == []
    sids = [s["Sid"] for s in json.loads(
        bus_events.describe_event_bus(Name="global-bus")["Policy"])["Statement"]]
    assert sorted(sids) == ["Anyone", f"backbone-test-PublishFrom{ORDER}",
                            f"backbone-test-PublishFrom{DELIVERY}"]


def test_verify_finds_a_forwarding_target_without_role_or_dlq(created: Path,
                                                              clients: Any) -> None:
    clients(BUS, "events").put_targets(Rule="global-to-order-service", EventBusName="global-bus",
                                       Targets=[{"Id": "local-bus", "Arn": (
                                           f"arn:aws:events:{REGION}:{ORDER}:event-bus/"
                                           "local-bus-order-service")}])

    report = cli(created, "verify", "--infra-only")

    assert report.exit_code == 1
    assert "target local-bus forwards to" in report.output
    assert "without a role (RoleArn)" in report.output
    assert "without a dead-letter queue" in report.output


def test_verify_finds_a_log_group_eventbridge_cannot_write_to(created: Path,
                                                              clients: Any) -> None:
    clients(DELIVERY, "logs").delete_resource_policy(
        policyName="backbone-test-eventbridge-to-event-logs")

    report = cli(created, "verify", "--infra-only")

    assert report.exit_code == 1
    assert (f"account {DELIVERY}: rule local-bus-delivery-service/log-all-events: target "
            "event-log: EventBridge cannot write to") in report.output
    assert "no Logs resource policy lets events.amazonaws.com put log events there" \
        in report.output


# --- destroy ---------------------------------------------------------------------------


def _foreign(clients: Any) -> None:
    for account in (BUS, ORDER):
        events = clients(account, "events")
        events.create_event_bus(Name="payments-bus")
        events.put_rule(Name="payments-rule", EventBusName="payments-bus",
                        EventPattern=json.dumps({"source": ["payments"]}))
    # A foreign rule on one of OUR buses would go with the bus ("Deleting an event bus
    # deletes the rules associated with that event bus", EventBridge User Guide, "Deleting
    # an Amazon EventBridge event bus"): destroy keeps that bus.
    clients(ORDER, "events").put_rule(Name="payments-spy", EventBusName="local-bus-order-service",
                                      EventPattern=json.dumps({"source": ["order-service"]}))
    clients(BUS, "events").put_rule(Name="audit", EventPattern=json.dumps({"source": ["x"]}))
    clients(BUS, "sqs").create_queue(QueueName="payments-handler-dlq")
    clients(BUS, "logs").create_log_group(logGroupName="/aws/events/backbone/payments")


def test_destroy_removes_only_what_the_stage_owns(created: Path, clients: Any) -> None:
    _foreign(clients)

    result = cli(created, "destroy", "--yes")

    assert result.exit_code == 1, result.output
    assert (f"KEEP {ORDER} event_bus local-bus-order-service: still carries rule payments-spy "
            "(not the stage's); only the stage's part of it is removed") in result.output
    for account in (BUS, ORDER, DELIVERY):
        events = clients(account, "events")
        buses = sorted(b["Name"] for b in events.list_event_buses()["EventBuses"])
        assert buses == {BUS: ["default", "payments-bus"],
                         ORDER: ["default", "local-bus-order-service", "payments-bus"],
                         DELIVERY: ["default"]}[account]
        assert events.list_archives()["Archives"] == []
        logs = clients(account, "logs")
        assert logs.describe_resource_policies()["resourcePolicies"] == []
        groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
        assert groups == (["/aws/events/backbone/payments"] if account == BUS else [])
        assert clients(account, "dynamodb").list_tables()["TableNames"] == []
        assert not [r for r in clients(account, "iam").list_roles()["Roles"]
                    if r["RoleName"].startswith("backbone-")]
    assert [r["Name"] for r in clients(BUS, "events").list_rules(
        EventBusName="payments-bus")["Rules"]] == ["payments-rule"]
    assert [r["Name"] for r in clients(BUS, "events").list_rules()["Rules"]] == ["audit"]
    assert [u.rsplit("/", 1)[-1] for u in clients(BUS, "sqs").list_queues()["QueueUrls"]] == [
        "payments-handler-dlq"]
    assert "QueueUrls" not in clients(ORDER, "sqs").list_queues()
    # The kept bus: its foreign rule stays, the stage's rule and statement are gone.
    order_events = clients(ORDER, "events")
    assert [r["Name"] for r in order_events.list_rules(
        EventBusName="local-bus-order-service")["Rules"]] == ["payments-spy"]
    assert "Policy" not in order_events.describe_event_bus(Name="local-bus-order-service")

    clients(ORDER, "events").delete_rule(Name="payments-spy",
                                         EventBusName="local-bus-order-service")
    again = cli(created, "destroy", "--yes")
    assert again.exit_code == 0, again.output
    assert [b["Name"] for b in order_events.list_event_buses()["EventBuses"]] == [
        "default", "payments-bus"]
    assert "nothing to destroy" in cli(created, "destroy", "--yes").output


def test_destroy_asks_first_and_a_no_keeps_everything(created: Path,
                                                      api_calls: ApiCalls) -> None:
    result = cli(created, "destroy", input="n\n")

    assert result.exit_code == 1
    assert "Destroy these resources of stage test?" in result.output
    assert api_calls.mutating == []
    assert cli(created, "verify", "--infra-only").exit_code == 0


# --- errors ------------------------------------------------------------------------------


def test_an_aws_error_is_one_line_naming_account_call_and_resource(
        aws: None, topology_file: Path, api_calls: ApiCalls) -> None:
    api_calls.fail["PutRule"] = "not allowed to events:PutRule"

    result = cli(topology_file, "create")

    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(
        f"error: account {BUS}: events:PutRule on rule global-bus/global-to-delivery-service "
        "failed: An error occurred (AccessDenied)")
    assert api_calls.mutating.count("PutRule") == 1, "stops at the first error"
    assert "PutTargets" not in api_calls.mutating


# --- other topologies --------------------------------------------------------------------

FIVE = stage_toml("five", credentials=ROLE, services=[
    {"name": f"svc-{i}", "account": str(i + 2) * 12} for i in range(5)])

ONE_ACCOUNT = stage_toml("one", bus_account="123456789012", credentials={"base": True},
                         services=[{**ORDER_SERVICE, "account": "123456789012"},
                                   {**DELIVERY_SERVICE, "account": "123456789012"}])

def test_five_services(aws: None, tmp_path: Path, api_calls: ApiCalls) -> None:
    path = write_topology(tmp_path, FIVE)

    assert cli(path, "create", stage="five").exit_code == 0
    assert cli(path, "verify", "--infra-only", stage="five").exit_code == 0
    stage = load_stage("five", path)
    clients = AccountSessions(stage).client
    forwarding = [r["Name"] for r in clients(BUS, "events").list_rules(
        EventBusName="global-bus", NamePrefix="global-to-")["Rules"]]
    assert sorted(forwarding) == [f"global-to-svc-{i}" for i in range(5)]
    for i in range(5):
        account = str(i + 2) * 12
        assert f"local-bus-svc-{i}" in [b["Name"] for b in clients(
            account, "events").list_event_buses()["EventBuses"]]
    policy = json.loads(clients(BUS, "events").describe_event_bus(Name="global-bus")["Policy"])
    assert len(policy["Statement"]) == 5

    api_calls.calls.clear()
    assert "nothing changed" in cli(path, "create", stage="five").output
    assert api_calls.mutating == []


def test_all_roles_in_one_account(aws: None, tmp_path: Path, api_calls: ApiCalls) -> None:
    path = write_topology(tmp_path, ONE_ACCOUNT)

    created = cli(path, "create", stage="one")
    assert created.exit_code == 0, created.output
    assert cli(path, "verify", "--infra-only", stage="one").exit_code == 0
    events = AccountSessions(load_stage("one", path)).client("123456789012", "events")
    assert sorted(b["Name"] for b in events.list_event_buses()["EventBuses"]) == [
        "default", "global-bus", "local-bus-delivery-service", "local-bus-order-service"]

    api_calls.calls.clear()
    assert cli(path, "create", stage="one").exit_code == 0
    assert api_calls.mutating == []

    assert cli(path, "destroy", "--yes", stage="one").exit_code == 0
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["default"]


# One item per page, and the token each List call continues with (botocore's models).
ONE_PER_PAGE = {"ListEventBuses": ("Limit", "NextToken"), "ListRules": ("Limit", "NextToken"),
                "ListRoles": ("MaxItems", "Marker"), "ListRoleTags": ("MaxItems", "Marker"),
                "ListQueues": ("MaxResults", "NextToken"),
                "DescribeLogGroups": ("limit", "nextToken"),
                "ListTables": ("Limit", "ExclusiveStartTableName")}
# (moto ignores the limit of DescribeResourcePolicies: the reader pages it all the same.)


def _foreign_first(stage: Stage) -> None:
    """Someone else's resources beside ours, created (and named) before them."""
    sessions = AccountSessions(stage)
    sessions.client(BUS, "events").create_event_bus(Name="aaa-foreign-bus")
    sessions.client(BUS, "sqs").create_queue(QueueName="aaa-foreign-queue")
    logs = sessions.client(BUS, "logs")
    logs.create_log_group(logGroupName="/aws/events/backbone/aaa-foreign")
    sessions.client(BUS, "iam").create_role(RoleName="aaa-foreign-role",
                                            AssumeRolePolicyDocument="{}")
    sessions.client(ORDER, "dynamodb").create_table(
        TableName="aaa-foreign-table", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])


def test_the_reader_follows_every_page(aws: None, topology_file: Path, stage: Stage,
                                       api_calls: ApiCalls,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _foreign_first(stage)
    assert cli(topology_file, "create").exit_code == 0
    counting = botocore.client.BaseClient._make_api_call

    def one_per_page(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if operation_name in ONE_PER_PAGE:
            api_params = {**api_params, ONE_PER_PAGE[operation_name][0]: 1}
        return counting(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", one_per_page)
    api_calls.calls.clear()

    again = cli(topology_file, "create")

    assert again.exit_code == 0, again.output
    assert api_calls.mutating == [], "a resource on a later page was missed"
    continued = {op for op, params in api_calls.calls
                 if op in ONE_PER_PAGE and ONE_PER_PAGE[op][1] in params}
    assert continued == set(ONE_PER_PAGE)


def test_a_failing_read_is_one_line_too(aws: None, topology_file: Path,
                                        api_calls: ApiCalls) -> None:
    api_calls.fail["ListEventBuses"] = "no events:ListEventBuses for you"

    result = cli(topology_file, "verify", "--infra-only")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: account {BUS}: events:ListEventBuses on event buses failed: An error "
        "occurred (AccessDenied) when calling the ListEventBuses operation: no "
        "events:ListEventBuses for you\n")
