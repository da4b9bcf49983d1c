"""create, destroy and verify never touch what the stage does not own.

Hand-made, untagged resources with the stage's names, of every kind `create` makes
(buses, rules, a role, queues, a log group, the Logs resource policy, tables, the
archive), each holding data where the kind holds data. The assertions read the
resources and their data back from the accounts, not only the printed text.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from infra_bootstrap import bootstrap, names
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import Stage, load_stage
from tests.component.conftest import ApiCalls
from tests.component.test_bootstrap import cli

REGION = "eu-west-1"
BUS, ORDER, DELIVERY = "111111111111", "222222222222", "333333333333"
PARTNER = "444444444444"
TAGS = names.tags("test")
LOGS_POLICY = names.logs_resource_policy("test")
GLOBAL_LOG = "/aws/events/backbone/global-bus"
ORDER_BUS = "local-bus-order-service"
ROLE = "backbone-forward-to-order-service"

# (account, kind, name) of every hand-made look-alike, as `plan` names its conflict.
HANDMADE = [
    (BUS, "event_bus", "global-bus"),
    (BUS, "archive", "global-bus-archive"),
    (BUS, "log_group", GLOBAL_LOG),
    (BUS, "logs_resource_policy", LOGS_POLICY),
    (BUS, "sqs_queue", "global-bus-forward-dlq"),
    (BUS, "iam_role", ROLE),
    (ORDER, "event_bus", ORDER_BUS),
    (ORDER, "rule", f"{ORDER_BUS}/log-all-events"),
    (ORDER, "sqs_queue", "order-service-handler-dlq"),
    (ORDER, "dynamodb_table", "order-service-state"),
]
ADOPT_ALL = [f"--adopt={account}:{kind}/{name}" for account, kind, name in HANDMADE]


@pytest.fixture
def stage(topology_file: Path) -> Stage:
    return load_stage("test", topology_file)


@pytest.fixture
def clients(stage: Stage) -> Any:
    return AccountSessions(stage).client


def _policy(sid: str, principal: str, action: str, resource: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": sid, "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": action, "Resource": resource}]}


def _make_by_hand(clients: Any) -> None:
    """Someone's own resources under the stage's names: no tags, their own settings."""
    events = clients(BUS, "events")
    bus_arn = events.create_event_bus(Name="global-bus")["EventBusArn"]
    events.put_permission(EventBusName="global-bus", Policy=json.dumps(
        _policy("Partner", PARTNER, "events:PutEvents", bus_arn)))
    clients(BUS, "sqs").create_queue(QueueName="audit-copy")
    events.put_rule(Name="audit", EventBusName="global-bus",
                    EventPattern=json.dumps({"source": ["billing"]}))
    events.put_targets(Rule="audit", EventBusName="global-bus", Targets=[
        {"Id": "copy", "Arn": f"arn:aws:sqs:{REGION}:{BUS}:audit-copy"}])
    events.create_archive(ArchiveName="global-bus-archive", EventSourceArn=bus_arn,
                          Description="billing events, kept for audits")
    events.put_events(Entries=[{"Source": "billing", "DetailType": "Invoice.Paid",
                                "Detail": "{}", "EventBusName": "global-bus"}])

    logs = clients(BUS, "logs")
    logs.create_log_group(logGroupName=GLOBAL_LOG)
    logs.create_log_stream(logGroupName=GLOBAL_LOG, logStreamName="s")
    logs.put_log_events(logGroupName=GLOBAL_LOG, logStreamName="s",
                        logEvents=[{"timestamp": int(time.time() * 1000),
                                    "message": "invoice 1"}])
    logs.put_resource_policy(policyName=LOGS_POLICY, policyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Sid": "Mine", "Effect": "Allow", "Principal": {"Service": "route53.amazonaws.com"},
            "Action": "logs:PutLogEvents", "Resource": "*"}]}))

    bus_sqs = clients(BUS, "sqs")
    url = bus_sqs.create_queue(QueueName="global-bus-forward-dlq")["QueueUrl"]
    bus_sqs.send_message(QueueUrl=url, MessageBody="a failed invoice")

    iam = clients(BUS, "iam")
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=ROLE, PolicyName="their-policy", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))

    order_events = clients(ORDER, "events")
    order_events.create_event_bus(Name=ORDER_BUS)
    order_events.put_rule(Name="log-all-events", EventBusName=ORDER_BUS,
                          EventPattern=json.dumps({"source": ["orders"]}))
    order_sqs = clients(ORDER, "sqs")
    url = order_sqs.create_queue(QueueName="order-service-handler-dlq")["QueueUrl"]
    order_sqs.send_message(QueueUrl=url, MessageBody="a failed order")
    ddb = clients(ORDER, "dynamodb")
    ddb.create_table(TableName="order-service-state", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}])
    ddb.put_item(TableName="order-service-state",
                 Item={"pk": {"S": "order#1"}, "sk": {"S": "order"}})


@pytest.fixture
def handmade(aws: None, clients: Any) -> None:
    _make_by_hand(clients)


# --- Reading the accounts back --------------------------------------------------------------


def _queue(clients: Any, account: str, name: str) -> dict[str, Any] | None:
    sqs = clients(account, "sqs")
    urls = [u for u in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
            if u.endswith(f"/{name}")]
    if not urls:
        return None
    attributes = sqs.get_queue_attributes(QueueUrl=urls[0],
                                          AttributeNames=["All"])["Attributes"]
    return {"messages": int(attributes["ApproximateNumberOfMessages"]),
            "policy": attributes.get("Policy"),
            "tags": sqs.list_queue_tags(QueueUrl=urls[0]).get("Tags", {})}


def _table(clients: Any, account: str, name: str) -> dict[str, Any] | None:
    ddb = clients(account, "dynamodb")
    if name not in ddb.list_tables()["TableNames"]:
        return None
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    return {"items": ddb.scan(TableName=name)["Count"],
            "tags": {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(
                ResourceArn=arn)["Tags"]}}


def _bus(clients: Any, account: str, name: str) -> dict[str, Any] | None:
    events = clients(account, "events")
    buses = {b["Name"]: b for b in events.list_event_buses()["EventBuses"]}
    if name not in buses:
        return None
    policy = events.describe_event_bus(Name=name).get("Policy")
    rules = {}
    for rule in events.list_rules(EventBusName=name)["Rules"]:
        if rule.get("ManagedBy"):
            continue
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=name)["Targets"]
        rules[rule["Name"]] = {"pattern": json.loads(rule["EventPattern"]),
                               "targets": sorted(t["Id"] for t in targets),
                               "tags": _tags(events, rule["Arn"])}
    return {"sids": sorted(s["Sid"] for s in json.loads(policy)["Statement"]) if policy else [],
            "rules": rules, "tags": _tags(events, buses[name]["Arn"])}


def _tags(events: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in events.list_tags_for_resource(ResourceARN=arn)["Tags"]}


def _archive(clients: Any) -> dict[str, Any] | None:
    events = clients(BUS, "events")
    if not events.list_archives()["Archives"]:
        return None
    archive = events.describe_archive(ArchiveName="global-bus-archive")
    return {"events": archive["EventCount"], "description": archive["Description"]}


def _log_group(clients: Any) -> dict[str, Any] | None:
    logs = clients(BUS, "logs")
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups(
        logGroupNamePrefix=GLOBAL_LOG)["logGroups"]}
    if GLOBAL_LOG not in groups:
        return None
    return {"events": len(logs.filter_log_events(logGroupName=GLOBAL_LOG)["events"]),
            "retention": groups[GLOBAL_LOG].get("retentionInDays"),
            "tags": logs.list_tags_for_resource(
                resourceArn=groups[GLOBAL_LOG]["logGroupArn"])["tags"]}


def _logs_policy(clients: Any, account: str = BUS) -> list[str] | None:
    for policy in clients(account, "logs").describe_resource_policies()["resourcePolicies"]:
        if policy["policyName"] == LOGS_POLICY:
            return sorted(s["Sid"] for s in json.loads(policy["policyDocument"])["Statement"])
    return None


def _role(clients: Any) -> dict[str, Any] | None:
    iam = clients(BUS, "iam")
    if ROLE not in [r["RoleName"] for r in iam.list_roles()["Roles"]]:
        return None
    return {"policies": sorted(iam.list_role_policies(RoleName=ROLE)["PolicyNames"]),
            "tags": {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=ROLE)["Tags"]}}


def _everything(clients: Any) -> dict[str, Any]:
    """Every hand-made resource with its settings and data, as the accounts report them."""
    return {
        "global-bus": _bus(clients, BUS, "global-bus"),
        ORDER_BUS: _bus(clients, ORDER, ORDER_BUS),
        "archive": _archive(clients),
        "log group": _log_group(clients),
        "Logs policy": _logs_policy(clients),
        "forward dlq": _queue(clients, BUS, "global-bus-forward-dlq"),
        "order dlq": _queue(clients, ORDER, "order-service-handler-dlq"),
        "audit-copy": _queue(clients, BUS, "audit-copy"),
        "table": _table(clients, ORDER, "order-service-state"),
        "role": _role(clients),
    }


HANDMADE_STATE: dict[str, Any] = {
    "global-bus": {"sids": ["Partner"], "tags": {}, "rules": {
        "audit": {"pattern": {"source": ["billing"]}, "targets": ["copy"], "tags": {}}}},
    ORDER_BUS: {"sids": [], "tags": {}, "rules": {
        "log-all-events": {"pattern": {"source": ["orders"]}, "targets": [], "tags": {}}}},
    "archive": {"events": 1, "description": "billing events, kept for audits"},
    "log group": {"events": 1, "retention": None, "tags": {}},
    "Logs policy": ["Mine"],
    "forward dlq": {"messages": 1, "policy": None, "tags": {}},
    "order dlq": {"messages": 1, "policy": None, "tags": {}},
    # The audit rule's own target got the billing event.
    "audit-copy": {"messages": 1, "policy": None, "tags": {}},
    "table": {"items": 1, "tags": {}},
    "role": {"policies": ["their-policy"], "tags": {}},
}


def test_the_hand_made_state_is_as_described(handmade: None, clients: Any) -> None:
    assert _everything(clients) == HANDMADE_STATE


# --- plan, create, destroy, verify against the look-alikes -----------------------------------


def test_plan_names_every_conflict_and_changes_nothing(handmade: None, topology_file: Path,
                                                       api_calls: ApiCalls) -> None:
    text = cli(topology_file, "plan")
    as_json = json.loads(cli(topology_file, "plan", "--json").output)

    assert text.exit_code == 0, text.output
    conflicts = [line for line in text.output.splitlines() if line.startswith("CONFLICT")]
    assert conflicts == [f"CONFLICT {account} {kind} {name}: exists, not owned by stage test"
                         for account, kind, name in sorted(HANDMADE, key=_plan_order)]
    assert "`create` refuses while 10 conflict(s) remain" in text.output
    assert sorted((c["account"], c["kind"], c["name"]) for a in as_json["accounts"]
                  for c in a["conflicts"]) == sorted(HANDMADE)
    assert api_calls.mutating == []


def _plan_order(conflict: tuple[str, str, str]) -> tuple[int, str, str]:
    from infra_bootstrap.resources import PHASES

    account, kind, name = conflict
    return PHASES.index(kind), account, name


def test_create_refuses_before_its_first_change(handmade: None, topology_file: Path,
                                                clients: Any, api_calls: ApiCalls) -> None:
    result = cli(topology_file, "create")

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert sorted(lines[:-1]) == sorted(
        f"CONFLICT {account} {kind} {name}: exists, not owned by stage test"
        for account, kind, name in HANDMADE)
    assert lines[-1].startswith("stage test: create refused, nothing changed")
    assert api_calls.mutating == []
    assert _everything(clients) == HANDMADE_STATE


def test_destroy_before_any_create_deletes_nothing(handmade: None, topology_file: Path,
                                                   clients: Any, api_calls: ApiCalls) -> None:
    result = cli(topology_file, "destroy", "--yes")

    assert result.exit_code == 0, result.output
    assert "stage test: nothing to destroy" in result.output
    assert (f"left alone: account {BUS}: Logs resource policy {LOGS_POLICY}: not owned by "
            "stage test") in result.output
    assert api_calls.mutating == []
    assert _everything(clients) == HANDMADE_STATE


def test_verify_reports_every_conflict(handmade: None, topology_file: Path) -> None:
    result = cli(topology_file, "verify", "--infra-only")

    assert result.exit_code == 1
    for account, kind, name in HANDMADE:
        assert (f"account {account}: {_label(kind, name)}: exists, not owned by stage test: a "
                f"conflict, `create` refuses (take it over with `create --adopt "
                f"{account}:{kind}/{name}`)") in result.output


def _label(kind: str, name: str) -> str:
    from infra_bootstrap.resources import Resource

    return Resource(kind, "", name).label


# --- create --adopt ----------------------------------------------------------------------------


def test_adopting_prints_every_change_first_then_takes_over_only_what_is_named(
        handmade: None, topology_file: Path, clients: Any) -> None:
    result = cli(topology_file, "create", *ADOPT_ALL)

    assert result.exit_code == 0, result.output
    adoption = result.output.split("stage test: applying\n", 1)[0]
    assert adoption.startswith("stage test: adopting 10 resource(s); every change made to "
                               "them:\n")
    assert (f"logs:PutRetentionPolicy                  set retention of log group {GLOBAL_LOG} "
            "to 7 days (was never expire)") in adoption
    assert ("events:TagResource                       tag event bus global-bus with "
            "backbone:project=cross-account-backbone, backbone:stage=test") in adoption
    assert "stays as it is: rule audit (not the stage's; `verify` reports it)" in adoption
    assert "stays as it is: inline policy their-policy" in adoption
    # The rule adopted with its bus is not something left on that bus.
    assert "stays as it is: rule log-all-events" not in adoption
    assert ("keeps 1 statement(s) not the stage's: Partner in the policy of event bus "
            "global-bus") in adoption
    after = _everything(clients)
    # Taken over: tagged, the stage's settings and statements added...
    assert after["global-bus"]["tags"] == TAGS
    assert after["global-bus"]["sids"] == sorted(
        ["Partner", f"backbone-test-PublishFrom{ORDER}", f"backbone-test-PublishFrom{DELIVERY}"])
    assert after["log group"]["retention"] == 7
    assert after["archive"]["description"].endswith("[backbone:stage=test]")
    assert after["Logs policy"] == sorted([
        "Mine", "backbone-test-EventBridgeCreatesEventLogStreams",
        "backbone-test-EventBridgeRulesWriteEventLogs"])
    assert after["role"] == {"policies": ["put-events-to-local-bus", "their-policy"],
                             "tags": TAGS}
    # ...and everything it holds, and everything else on it, still there.
    assert (after["archive"]["events"], after["log group"]["events"], after["table"]["items"],
            after["forward dlq"]["messages"], after["order dlq"]["messages"]) == (1, 1, 1, 1, 1)
    assert after["global-bus"]["rules"]["audit"] == HANDMADE_STATE["global-bus"]["rules"]["audit"]
    assert after["audit-copy"] == HANDMADE_STATE["audit-copy"]

    verify = cli(topology_file, "verify", "--infra-only")
    assert verify.exit_code == 1
    assert "difference(s)" not in verify.output
    foreign = sorted(line.strip() for line in verify.output.splitlines()
                     if "foreign addition" in line)
    assert foreign == sorted([
        f"account {BUS}: event bus global-bus: foreign addition: policy statement Partner, not "
        "made by stage test (`create` leaves it in place)",
        f"account {BUS}: event bus global-bus: foreign addition: rule audit, not made by stage "
        "test (`create` leaves it in place)",
        f"account {BUS}: Logs resource policy {LOGS_POLICY}: foreign addition: policy statement "
        "Mine, not made by stage test (`create` leaves it in place)",
        f"account {BUS}: IAM role {ROLE}: foreign addition: inline policy their-policy, not made "
        "by stage test (`create` leaves it in place)",
    ])


def test_a_second_create_after_adopting_changes_nothing(handmade: None, topology_file: Path,
                                                        api_calls: ApiCalls) -> None:
    assert cli(topology_file, "create", *ADOPT_ALL).exit_code == 0
    api_calls.calls.clear()

    again = cli(topology_file, "create")

    assert again.exit_code == 0, again.output
    assert api_calls.mutating == []


def test_adopting_some_conflicts_still_refuses_for_the_others(
        handmade: None, topology_file: Path, clients: Any, api_calls: ApiCalls) -> None:
    result = cli(topology_file, "create", "--adopt", "event_bus/global-bus")

    assert result.exit_code == 1
    assert "CONFLICT 111111111111 event_bus global-bus" not in result.stderr
    assert "CONFLICT 111111111111 archive global-bus-archive" in result.stderr
    assert api_calls.mutating == []
    assert _everything(clients) == HANDMADE_STATE


@pytest.mark.parametrize(("ref", "message"), [
    ("bucket/global-bus", "error: --adopt bucket/global-bus: unknown kind bucket"),
    ("sqs_queue/audit-copy", "error: --adopt sqs_queue/audit-copy: not a conflict"),
    ("event_bus/local-bus-delivery-service",
     "error: --adopt event_bus/local-bus-delivery-service: not a conflict"),
    ("archive/global-bus-archive",
     "error: --adopt archive/global-bus-archive: cannot adopt archive global-bus-archive in "
     f"account {BUS}: it archives event bus global-bus, which stage test does not own: adopt "
     "event_bus/global-bus as well"),
])
def test_adopting_what_is_not_a_conflict_is_exit_2_and_changes_nothing(
        handmade: None, topology_file: Path, clients: Any, api_calls: ApiCalls, ref: str,
        message: str) -> None:
    result = cli(topology_file, "create", "--adopt", ref)

    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.splitlines()) == 1
    assert api_calls.mutating == []
    assert _everything(clients) == HANDMADE_STATE


def test_a_table_whose_keys_differ_cannot_be_adopted(aws: None, topology_file: Path,
                                                     clients: Any, api_calls: ApiCalls) -> None:
    ddb = clients(DELIVERY, "dynamodb")
    ddb.create_table(TableName="delivery-service-state", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    ddb.put_item(TableName="delivery-service-state", Item={"id": {"S": "parcel-1"}})
    api_calls.calls.clear()

    result = cli(topology_file, "create", "--adopt", "dynamodb_table/delivery-service-state")

    assert result.exit_code == 2
    assert result.stderr == (
        "error: --adopt dynamodb_table/delivery-service-state: cannot adopt DynamoDB table "
        f"delivery-service-state in account {DELIVERY}: its key schema (id) is not pk/sk, and "
        "the keys of a table cannot change\n")
    assert api_calls.mutating == []
    assert ddb.scan(TableName="delivery-service-state")["Count"] == 1


# --- destroy after adopting -------------------------------------------------------------------


def test_destroy_keeps_what_holds_data_and_what_carries_someone_else_s_parts(
        handmade: None, topology_file: Path, clients: Any) -> None:
    assert cli(topology_file, "create", *ADOPT_ALL).exit_code == 0

    result = cli(topology_file, "destroy", "--yes")

    assert result.exit_code == 1, result.output
    kept = sorted(line for line in result.output.splitlines() if line.startswith("KEEP"))
    data_hint = " (`destroy --discard-data` deletes it with its data)"
    assert kept == sorted([
        f"KEEP {BUS} archive global-bus-archive: holds 1 event" + data_hint,
        f"KEEP {BUS} event_bus global-bus: still carries policy statement Partner, rule audit "
        "(not the stage's), archive global-bus-archive; only the stage's part of it is removed",
        f"KEEP {BUS} log_group {GLOBAL_LOG}: holds at least 1 log event" + data_hint,
        f"KEEP {BUS} logs_resource_policy {LOGS_POLICY}: still carries policy statement Mine; "
        "only the stage's part of it is removed",
        f"KEEP {BUS} sqs_queue global-bus-forward-dlq: holds 1 message" + data_hint,
        f"KEEP {BUS} iam_role {ROLE}: still carries inline policy their-policy; only the "
        "stage's part of it is removed",
        f"KEEP {ORDER} sqs_queue order-service-handler-dlq: holds 1 message" + data_hint,
        f"KEEP {ORDER} dynamodb_table order-service-state: holds at least 1 item" + data_hint,
    ])
    after = _everything(clients)
    assert (after["archive"]["events"], after["log group"]["events"], after["table"]["items"],
            after["forward dlq"]["messages"], after["order dlq"]["messages"]) == (1, 1, 1, 1, 1)
    assert after["global-bus"]["sids"] == ["Partner"]
    assert list(after["global-bus"]["rules"]) == ["audit"]
    assert after["Logs policy"] == ["Mine"]
    assert after["role"]["policies"] == ["their-policy"]
    # What held nothing and carried nothing foreign is gone, here and in the other accounts.
    assert after[ORDER_BUS] is None
    assert _bus(clients, DELIVERY, "local-bus-delivery-service") is None
    assert _table(clients, DELIVERY, "delivery-service-state") is None
    assert _logs_policy(clients, ORDER) is None
    assert after["audit-copy"] == HANDMADE_STATE["audit-copy"]


def test_destroy_with_discard_data_deletes_the_data_but_nothing_it_did_not_make(
        handmade: None, topology_file: Path, clients: Any) -> None:
    assert cli(topology_file, "create", *ADOPT_ALL).exit_code == 0

    result = cli(topology_file, "destroy", "--yes", "--discard-data")

    assert result.exit_code == 1, result.output
    after = _everything(clients)
    for gone in ("archive", "log group", "forward dlq", "order dlq", "table", ORDER_BUS):
        assert after[gone] is None, gone
    # Kept for what someone else put on them; the stage's part of each is gone.
    assert after["global-bus"] == {"sids": ["Partner"], "tags": TAGS,
                                   "rules": {"audit": HANDMADE_STATE["global-bus"]["rules"][
                                       "audit"]}}
    assert after["Logs policy"] == ["Mine"]
    assert after["role"] == {"policies": ["their-policy"], "tags": TAGS}
    assert after["audit-copy"] == HANDMADE_STATE["audit-copy"]


# --- destroy re-checks right before each delete --------------------------------------------


def test_destroy_rechecks_marker_and_data_right_before_each_delete(
        aws: None, topology_file: Path, stage: Stage, clients: Any) -> None:
    assert cli(topology_file, "create").exit_code == 0
    sessions = AccountSessions(stage)
    planned = bootstrap.destroy_plan(stage, sessions)
    assert planned.kept == []
    # Between the plan and its execution: a queue loses its tags, another gets a message.
    sqs = clients(ORDER, "sqs")
    untagged = sqs.get_queue_url(QueueName="order-service-handler-dlq")["QueueUrl"]
    sqs.untag_queue(QueueUrl=untagged, TagKeys=list(TAGS))
    delivery_sqs = clients(DELIVERY, "sqs")
    filled = delivery_sqs.get_queue_url(QueueName="delivery-service-handler-dlq")["QueueUrl"]
    delivery_sqs.send_message(QueueUrl=filled, MessageBody="late dead letter")

    outcomes = {o.resource.name: o for o in bootstrap.destroy(stage, sessions, planned)}

    assert (outcomes["order-service-handler-dlq"].result,
            outcomes["order-service-handler-dlq"].reason) == (
        "skipped", "no longer carries the marker of stage test")
    assert (outcomes["delivery-service-handler-dlq"].result,
            outcomes["delivery-service-handler-dlq"].reason) == ("kept", "holds 1 message")
    skipped = _queue(clients, ORDER, "order-service-handler-dlq")
    assert skipped is not None and skipped["tags"] == {}
    assert _queue(clients, DELIVERY, "delivery-service-handler-dlq") == {
        "messages": 1, "policy": ANY, "tags": TAGS}
    assert outcomes["global-bus"].result == "deleted"


def test_destroy_before_any_create_in_empty_accounts(aws: None, topology_file: Path,
                                                     api_calls: ApiCalls) -> None:
    result = cli(topology_file, "destroy", "--yes")

    assert (result.exit_code, result.output) == (0, "stage test: nothing to destroy\n")
    assert api_calls.mutating == []
