"""subscribe: rules on the service's local bus feeding its deployed functions."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from infra_bootstrap import bootstrap, names
from infra_bootstrap import subscribe as subscribing
from infra_bootstrap.cli import main
from infra_bootstrap.errors import ConflictError, UsageError
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import Stage, load_stage
from tests.component.conftest import ApiCalls

REGION = "eu-west-1"
ORDER, DELIVERY = "222222222222", "333333333333"
TAGS = {"backbone:project": "cross-account-backbone", "backbone:stage": "test"}
# What Chalice puts on each function: the stage config's `tags` (written by `configure`)
# and its own `aws-chalice` tag.
CHALICE_TAGS = {**TAGS, "aws-chalice": "version=1.31.0:stage=test:app=x"}


@dataclass(frozen=True)
class FakeSubscription:
    name: str
    event_pattern: dict[str, Any] = field(default_factory=dict)


ORDER_CREATED = FakeSubscription(
    "on_order_created", {"source": ["order-service"], "detail-type": ["Order.Created"]})
ORDER_AUDIT = FakeSubscription("on_any_order", {"source": ["order-service"]})
DELIVERY_UPDATED = FakeSubscription(
    "on_delivery_updated", {"source": ["delivery-service"], "detail-type": ["Delivery.Updated"]})
DECLARED = {"delivery-service": (ORDER_CREATED, ORDER_AUDIT),
            "order-service": (DELIVERY_UPDATED,)}
ACCOUNTS = {"delivery-service": DELIVERY, "order-service": ORDER}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def _deploy(sessions: AccountSessions, service: str, subscriptions: Any) -> dict[str, str]:
    """Stand-in for `chalice deploy`: one function per subscription, ARNs by name."""
    account = ACCOUNTS[service]
    iam = sessions.client(account, "iam")
    role = iam.create_role(RoleName=f"{service}-test", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    arns = {}
    for sub in subscriptions:
        function = names.lambda_function_name(service, "test", sub.name)
        arns[sub.name] = sessions.client(account, "lambda").create_function(
            FunctionName=function, Runtime="python3.12", Role=role, Handler="app.handler",
            Code={"ZipFile": _zip()}, Tags=CHALICE_TAGS)["FunctionArn"]
    return arns


@pytest.fixture
def stage(aws: None, topology_file: Path) -> Stage:
    stage = load_stage("test", topology_file)
    bootstrap.apply(stage, AccountSessions(stage))
    return stage


@pytest.fixture
def sessions(stage: Stage) -> AccountSessions:
    return AccountSessions(stage)


@pytest.fixture
def deployed(stage: Stage, sessions: AccountSessions) -> dict[str, dict[str, str]]:
    return {service: _deploy(sessions, service, subs) for service, subs in DECLARED.items()}


def _run(stage: Stage, arns: dict[str, dict[str, str]], declared: Any = None,
         **kwargs: Any) -> subscribing.SubscribeResult:
    return subscribing.subscribe(stage, AccountSessions(stage), arns,
                                 subscriptions=declared or DECLARED, **kwargs)


def test_each_subscription_gets_rule_target_permission_and_invoke_config(
        stage: Stage, sessions: AccountSessions, deployed: dict[str, dict[str, str]]) -> None:
    result = _run(stage, deployed)

    assert result.changed
    events = sessions.client(DELIVERY, "events")
    bus = "local-bus-delivery-service"
    rules = {r["Name"]: r for r in events.list_rules(EventBusName=bus)["Rules"]}
    assert set(rules) == {"log-all-events", "sub-on_order_created", "sub-on_any_order"}
    rule = rules["sub-on_order_created"]
    assert json.loads(rule["EventPattern"]) == ORDER_CREATED.event_pattern
    assert {t["Key"]: t["Value"] for t in events.list_tags_for_resource(
        ResourceARN=rule["Arn"])["Tags"]} == TAGS
    dlq = f"arn:aws:sqs:{REGION}:{DELIVERY}:delivery-service-handler-dlq"
    function_arn = deployed["delivery-service"]["on_order_created"]
    assert events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"] == [{
        "Id": "function", "Arn": function_arn,
        "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
        "DeadLetterConfig": {"Arn": dlq}}]

    lam = sessions.client(DELIVERY, "lambda")
    function = "delivery-service-test-on_order_created"
    [statement] = json.loads(lam.get_policy(FunctionName=function)["Policy"])["Statement"]
    assert statement["Sid"] == "backbone-test-on_order_created"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert list(statement["Condition"]["ArnLike"].values()) == [rule["Arn"]]
    config = lam.get_function_event_invoke_config(FunctionName=function)
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 21600
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": dlq}}

    order_rules = [r["Name"] for r in sessions.client(ORDER, "events").list_rules(
        EventBusName="local-bus-order-service")["Rules"]]
    assert sorted(order_rules) == ["log-all-events", "sub-on_delivery_updated"]

    # ... and an alarm on the rule's failed invocations, in the service's account.
    cloudwatch = sessions.client(DELIVERY, "cloudwatch")
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[
        "backbone-test-subscription-local-bus-delivery-service-sub-on_order_created"])[
        "MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/Events", "FailedInvocations", "Sum")
    assert sorted((d["Name"], d["Value"]) for d in alarm["Dimensions"]) == [
        ("EventBusName", bus), ("RuleName", "sub-on_order_created")]
    assert {t["Key"]: t["Value"] for t in cloudwatch.list_tags_for_resource(
        ResourceARN=alarm["AlarmArn"])["Tags"]} == TAGS


def test_second_run_changes_nothing(stage: Stage, deployed: dict[str, dict[str, str]],
                                    api_calls: ApiCalls) -> None:
    _run(stage, deployed)
    api_calls.calls.clear()

    result = _run(stage, deployed)

    assert not result.changed
    assert api_calls.mutating == []


def test_bootstrap_create_and_verify_leave_subscriptions_alone(
        stage: Stage, deployed: dict[str, dict[str, str]]) -> None:
    _run(stage, deployed)

    assert bootstrap.verify(stage, AccountSessions(stage)).ok
    assert not bootstrap.apply(stage, AccountSessions(stage)).changed
    assert not _run(stage, deployed).changed


def test_a_subscription_no_longer_declared_loses_its_rule(
        stage: Stage, sessions: AccountSessions, deployed: dict[str, dict[str, str]]) -> None:
    _run(stage, deployed)
    events = sessions.client(DELIVERY, "events")
    bus = "local-bus-delivery-service"
    events.put_rule(Name="sub-handmade", EventBusName=bus,
                    EventPattern=json.dumps({"source": ["x"]}))

    result = _run(stage, deployed, {**DECLARED, "delivery-service": (ORDER_CREATED,)})

    assert [c.description for c in result.calls if c.mutating] == [
        "delete alarm backbone-test-subscription-local-bus-delivery-service-sub-on_any_order",
        "remove Lambda permission delivery-service-test-on_any_order/backbone-test-on_any_order",
        "remove targets function from subscription rule "
        "local-bus-delivery-service/sub-on_any_order",
        "delete subscription rule local-bus-delivery-service/sub-on_any_order"]
    assert sorted(r["Name"] for r in events.list_rules(EventBusName=bus)["Rules"]) == [
        "log-all-events", "sub-handmade", "sub-on_order_created"]
    lam = sessions.client(DELIVERY, "lambda")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_policy(FunctionName="delivery-service-test-on_any_order")
    # Its async-invoke settings stay: they are the function's, harmless without a rule.
    assert lam.get_function_event_invoke_config(
        FunctionName="delivery-service-test-on_any_order")["MaximumRetryAttempts"] == 2
    assert not _run(stage, deployed, {**DECLARED, "delivery-service": (ORDER_CREATED,)}).changed


def test_dry_run_plans_without_changing_anything(stage: Stage,
                                                 deployed: dict[str, dict[str, str]],
                                                 api_calls: ApiCalls) -> None:
    result = _run(stage, deployed, dry_run=True)

    assert not result.applied
    assert {c.api_name for c in result.calls} == {
        "events:PutRule", "events:PutTargets", "lambda:AddPermission",
        "lambda:PutFunctionEventInvokeConfig", "cloudwatch:PutMetricAlarm"}
    assert api_calls.mutating == []


def test_only_the_services_asked_for_are_touched(stage: Stage, sessions: AccountSessions,
                                                 deployed: dict[str, dict[str, str]]) -> None:
    _run(stage, deployed)

    result = _run(stage, {"order-service": deployed["order-service"]},
                  {"order-service": ()})

    assert [c.operation for c in result.calls] == [
        "delete_alarms", "remove_permission", "remove_targets", "delete_rule"]
    assert len(sessions.client(DELIVERY, "events").list_rules(
        EventBusName="local-bus-delivery-service", NamePrefix="sub-")["Rules"]) == 2


def test_destroy_also_sweeps_subscription_rules(stage: Stage, sessions: AccountSessions,
                                                deployed: dict[str, dict[str, str]]) -> None:
    _run(stage, deployed)

    fresh = AccountSessions(stage)
    outcomes = bootstrap.destroy(stage, fresh, bootstrap.destroy_plan(stage, fresh))

    assert {o.resource.name for o in outcomes if o.result == "deleted"} >= {
        "local-bus-delivery-service/sub-on_order_created",
        "local-bus-delivery-service/sub-on_any_order",
        "local-bus-order-service/sub-on_delivery_updated"}
    assert [b["Name"] for b in sessions.client(DELIVERY, "events").list_event_buses()[
        "EventBuses"]] == ["default"]


# --- Ownership: what subscribe did not make, it does not touch ------------------------------

DELIVERY_BUS = "local-bus-delivery-service"
HANDMADE_RULE = f"{DELIVERY_BUS}/sub-on_order_created"


def _handmade_subscription_rule(sessions: AccountSessions) -> None:
    """Someone's own rule on the stage's bus, under the name of a declared subscription."""
    events = sessions.client(DELIVERY, "events")
    events.put_rule(Name="sub-on_order_created", EventBusName=DELIVERY_BUS,
                    EventPattern=json.dumps({"source": ["partner"]}))
    events.put_targets(Rule="sub-on_order_created", EventBusName=DELIVERY_BUS, Targets=[
        {"Id": "partner-queue", "Arn": f"arn:aws:sqs:{REGION}:{DELIVERY}:partner"}])


def _subscription_rule(sessions: AccountSessions) -> dict[str, Any]:
    events = sessions.client(DELIVERY, "events")
    [rule] = events.list_rules(EventBusName=DELIVERY_BUS, NamePrefix="sub-on_order_created")[
        "Rules"]
    targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=DELIVERY_BUS)
    return {"pattern": json.loads(rule["EventPattern"]),
            "targets": sorted(t["Id"] for t in targets["Targets"]),
            "tags": {t["Key"]: t["Value"] for t in events.list_tags_for_resource(
                ResourceARN=rule["Arn"])["Tags"]}}


def test_a_hand_made_subscription_rule_is_a_conflict_and_nothing_changes(
        stage: Stage, sessions: AccountSessions, deployed: dict[str, dict[str, str]],
        api_calls: ApiCalls) -> None:
    _handmade_subscription_rule(sessions)
    api_calls.calls.clear()

    with pytest.raises(ConflictError) as raised:
        _run(stage, deployed)

    assert raised.value.lines == [f"CONFLICT {DELIVERY} subscription_rule {HANDMADE_RULE}: "
                                  "exists, not owned by stage test"]
    assert api_calls.mutating == []
    assert _subscription_rule(sessions) == {"pattern": {"source": ["partner"]},
                                            "targets": ["partner-queue"], "tags": {}}


def test_adopting_a_subscription_rule_keeps_its_other_targets(
        stage: Stage, sessions: AccountSessions, deployed: dict[str, dict[str, str]]) -> None:
    _handmade_subscription_rule(sessions)

    _run(stage, deployed, adopt=[f"subscription_rule/{HANDMADE_RULE}"])

    assert _subscription_rule(sessions) == {"pattern": ORDER_CREATED.event_pattern,
                                            "targets": ["function", "partner-queue"],
                                            "tags": TAGS}
    report = bootstrap.verify(stage, AccountSessions(stage))
    # The adopted rule is the stage's now: no foreign addition on its bus.
    assert [f.message for f in report.findings] == []


def test_a_function_without_the_stage_s_tags_gets_nothing(
        stage: Stage, sessions: AccountSessions, deployed: dict[str, dict[str, str]],
        api_calls: ApiCalls) -> None:
    function = "delivery-service-test-on_order_created"
    lam = sessions.client(DELIVERY, "lambda")
    lam.untag_resource(Resource=deployed["delivery-service"]["on_order_created"],
                       TagKeys=list(TAGS))
    lam.add_permission(FunctionName=function, StatementId="backbone-test-on_order_created",
                       Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    lam.put_function_event_invoke_config(FunctionName=function, MaximumRetryAttempts=0)
    api_calls.calls.clear()

    with pytest.raises(UsageError) as raised:
        _run(stage, deployed)

    assert str(raised.value).startswith(
        f"account {DELIVERY}: function {function} does not carry the tags of stage test "
        "(backbone:project=cross-account-backbone, backbone:stage=test), so it is not the "
        "stage's: run `configure`")
    assert api_calls.mutating == []
    [statement] = json.loads(lam.get_policy(FunctionName=function)["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert lam.get_function_event_invoke_config(FunctionName=function)[
        "MaximumRetryAttempts"] == 0


def test_permissions_the_stage_did_not_write_stay_on_its_functions(
        stage: Stage, sessions: AccountSessions, deployed: dict[str, dict[str, str]]) -> None:
    function = "delivery-service-test-on_any_order"
    lam = sessions.client(DELIVERY, "lambda")
    for sid in ("AllowS3", "backbone-prod-on_any_order"):
        lam.add_permission(FunctionName=function, StatementId=sid,
                           Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    _run(stage, deployed)

    _run(stage, deployed, {**DECLARED, "delivery-service": (ORDER_CREATED,)})

    sids = [s["Sid"] for s in json.loads(lam.get_policy(FunctionName=function)["Policy"])[
        "Statement"]]
    assert sorted(sids) == ["AllowS3", "backbone-prod-on_any_order"]


def test_cli_prints_each_conflict_and_exits_1(stage: Stage, sessions: AccountSessions,
                                              topology_file: Path,
                                              deployed: dict[str, dict[str, str]],
                                              service_dirs: dict[str, Path]) -> None:
    _handmade_subscription_rule(sessions)
    _write_deployed(service_dirs["delivery-service"], "test", deployed["delivery-service"])

    result = _cli(topology_file, "--service", "delivery-service")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"CONFLICT {DELIVERY} subscription_rule {HANDMADE_RULE}: exists, not owned by stage "
        "test")
    assert _subscription_rule(sessions)["tags"] == {}


# --- CLI -----------------------------------------------------------------------------------


def _write_deployed(directory: Path, stage: str, arns: dict[str, str]) -> None:
    """Chalice's deployed state: .chalice/deployed/<stage>.json."""
    path = directory / ".chalice" / "deployed" / f"{stage}.json"
    path.parent.mkdir(parents=True)
    resources: list[dict[str, Any]] = [
        {"name": "default-role", "resource_type": "iam_role",
         "role_arn": "arn:aws:iam::1:role/x", "role_name": "x"}]
    resources += [{"name": name, "resource_type": "lambda_function", "lambda_arn": arn}
                  for name, arn in arns.items()]
    path.write_text(json.dumps({"resources": resources, "schema_version": "2.0",
                                "backend": "api"}))


@pytest.fixture
def service_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    import infra_bootstrap.service_apps as service_apps

    dirs = {s: tmp_path / s.replace("-", "_") for s in DECLARED}
    for directory in dirs.values():
        directory.mkdir()
    monkeypatch.setattr(service_apps, "service_dir", lambda service: dirs[service])
    monkeypatch.setattr(subscribing, "declared_subscriptions", lambda service: DECLARED[service])
    return dirs


def _cli(topology_file: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["subscribe", "--config", str(topology_file),
                                     "--stage", "test", *args])


def test_cli_reads_chalice_deployed_state(stage: Stage, topology_file: Path,
                                          deployed: dict[str, dict[str, str]],
                                          service_dirs: dict[str, Path]) -> None:
    for service, directory in service_dirs.items():
        _write_deployed(directory, "test", deployed[service])

    first = _cli(topology_file)
    second = _cli(topology_file)

    assert first.exit_code == 0, first.output
    assert "lambda:AddPermission" in first.output
    assert "15 change(s) applied" in first.output
    assert second.exit_code == 0, second.output
    assert second.output.strip().endswith("subscriptions up to date, nothing changed")


def test_cli_dry_run_for_one_service(stage: Stage, topology_file: Path,
                                     deployed: dict[str, dict[str, str]],
                                     service_dirs: dict[str, Path]) -> None:
    _write_deployed(service_dirs["order-service"], "test", deployed["order-service"])

    result = _cli(topology_file, "--service", "order-service", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "5 change(s) planned (dry run)" in result.output
    assert _cli(topology_file, "--service", "order-service", "--dry-run").output == result.output


def test_cli_without_deployed_state_says_which_deploy_to_run(
        stage: Stage, topology_file: Path, service_dirs: dict[str, Path]) -> None:
    result = _cli(topology_file, "--service", "delivery-service")

    assert result.exit_code == 1
    directory = service_dirs["delivery-service"]
    assert result.stderr == (
        f"error: service delivery-service: no deployed state "
        f"{directory}/.chalice/deployed/test.json: run `chalice deploy --stage test` in "
        f"{directory} first\n")


def test_cli_with_a_subscription_not_deployed_yet(stage: Stage, topology_file: Path,
                                                  deployed: dict[str, dict[str, str]],
                                                  service_dirs: dict[str, Path]) -> None:
    partial = {"on_order_created": deployed["delivery-service"]["on_order_created"]}
    _write_deployed(service_dirs["delivery-service"], "test", partial)

    result = _cli(topology_file, "--service", "delivery-service")

    assert result.exit_code == 1
    assert "on_any_order not deployed for stage test" in result.stderr
    assert "chalice deploy --stage test" in result.stderr
