"""`create` then `subscribe` with the real order and delivery apps, and with a new one.

The subscriptions come from importing the real Chalice apps; `chalice deploy` is stood in
for by creating each function in moto (execution role + zip) and writing Chalice's
deployed state (``.chalice/deployed/<stage>.json``) into a temporary service folder.
A new service is a topology entry plus an app folder: every command takes it from there.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from backbone.subscriptions import Subscription, subscriptions_of
from infra_bootstrap import names, service_apps
from infra_bootstrap import subscribe as subscribing
from infra_bootstrap.cli import main
from infra_bootstrap.service_apps import load_app, service_dir
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import Stage, load_stage
from tests.topologies import (
    DELIVERY_SERVICE,
    ORDER_SERVICE,
    ROLE,
    stage_toml,
    write_topology,
)

REGION = "eu-west-1"
BUS_ACCOUNT = "111111111111"
ACCOUNTS = {"order-service": "222222222222", "delivery-service": "333333333333"}
TAGS = {"backbone:project": "cross-account-backbone", "backbone:stage": "test"}
# What each service reacts to (Order.Created -> delivery, Delivery.Updated -> order):
# the rule on its own bus must match this.
EXPECTED_PATTERNS = {
    "order-service": {"on_delivery_updated": {"source": ["delivery-service"],
                                              "detail-type": ["Delivery.Updated"]}},
    "delivery-service": {"on_order_created": {"source": ["order-service"],
                                              "detail-type": ["Order.Created"]}},
}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def _chalice_deploy(sessions: AccountSessions, account: str, service: str,
                    directory: Path) -> dict[str, str]:
    """What `chalice deploy --stage test` leaves behind: functions and deployed state.

    Chalice names functions ``<app>-<stage>-<name>`` (the route handler ``<app>-<stage>``)
    and records them in ``.chalice/deployed/<stage>.json`` under their logical names.
    """
    app = load_app(service)
    role_name = names.lambda_execution_role_name(service, "test")
    role_arn = sessions.client(account, "iam").create_role(
        RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    functions = {sub.name: names.lambda_function_name(service, "test", sub.name)
                 for sub in subscriptions_of(app)}
    if app.routes:  # Chalice deploys an API handler
        functions["api_handler"] = names.api_handler_function_name(service, "test")
    lam = sessions.client(account, "lambda")
    # Chalice tags every function with the stage config's `tags` (`configure` writes the
    # stage's ownership tags there) plus its own `aws-chalice` tag.
    tags = {**TAGS, "aws-chalice": f"version=1.31.0:stage=test:app={service}"}
    arns = {logical: lam.create_function(
        FunctionName=function, Runtime="python3.12", Role=role_arn, Handler="app.handler",
        Code={"ZipFile": _zip()}, Tags=tags)["FunctionArn"]
        for logical, function in functions.items()}

    resources: list[dict[str, Any]] = [{"name": "default-role", "resource_type": "iam_role",
                                        "role_arn": role_arn, "role_name": role_name}]
    resources += [{"name": logical, "resource_type": "lambda_function", "lambda_arn": arn}
                  for logical, arn in arns.items()]
    if app.routes:
        resources.append({"name": "rest_api", "resource_type": "rest_api",
                          "rest_api_id": "abc123", "rest_api_url":
                          f"https://abc123.execute-api.{REGION}.amazonaws.com/api/"})
    path = directory / ".chalice" / "deployed" / "test.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"resources": resources, "schema_version": "2.0",
                                "backend": "api"}), encoding="utf-8")
    return arns


def _cli(topology_file: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(topology_file), "--stage", "test"])


@pytest.fixture
def declared() -> dict[str, tuple[Subscription, ...]]:
    """The subscriptions the real apps declare, read by importing them."""
    return {service: subscriptions_of(load_app(service)) for service in ACCOUNTS}


@pytest.fixture
def stage(aws: None, topology_file: Path) -> Stage:
    created = _cli(topology_file, "create")
    assert created.exit_code == 0, created.output
    return load_stage("test", topology_file)


@pytest.fixture
def deployed(stage: Stage, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    """Deploy both services; `subscribe` reads their deployed state from ``tmp_path``."""
    sessions = AccountSessions(stage)
    dirs = {service: tmp_path / names.service_app_dir(service) for service in ACCOUNTS}
    arns = {service: _chalice_deploy(sessions, account, service, dirs[service])
            for service, account in ACCOUNTS.items()}
    read_deployed: Callable[..., dict[str, str]] = subscribing.deployed_function_arns
    monkeypatch.setattr(subscribing, "deployed_function_arns",
                        lambda stage, service: read_deployed(stage, service, dirs[service]))
    return arns


def test_real_apps_declare_what_the_design_says() -> None:
    for service, expected in EXPECTED_PATTERNS.items():
        assert {s.name: s.event_pattern for s in subscriptions_of(load_app(service))} \
            == expected, service


@pytest.mark.parametrize("service", sorted(ACCOUNTS))
def test_subscribe_wires_each_real_subscription_on_the_service_bus(
        stage: Stage, topology_file: Path, declared: dict[str, tuple[Subscription, ...]],
        deployed: dict[str, dict[str, str]], service: str) -> None:
    result = _cli(topology_file, "subscribe")

    assert result.exit_code == 0, result.output
    account = ACCOUNTS[service]
    sessions = AccountSessions(stage)
    events, lam = sessions.client(account, "events"), sessions.client(account, "lambda")
    bus = names.local_bus(service)
    dlq = f"arn:aws:sqs:{REGION}:{account}:{service}-handler-dlq"
    rules = {r["Name"]: r for r in events.list_rules(EventBusName=bus)["Rules"]}
    assert set(rules) == {"log-all-events"} | {f"sub-{s.name}" for s in declared[service]}
    for sub in declared[service]:
        rule = rules[f"sub-{sub.name}"]
        assert json.loads(rule["EventPattern"]) == sub.event_pattern
        assert rule["State"] == "ENABLED"
        assert rule["Arn"] == f"arn:aws:events:{REGION}:{account}:rule/{bus}/sub-{sub.name}"
        assert {t["Key"]: t["Value"] for t in events.list_tags_for_resource(
            ResourceARN=rule["Arn"])["Tags"]} == TAGS
        function_arn = deployed[service][sub.name]
        assert events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"] \
            == [{"Id": "function", "Arn": function_arn,
                 "RetryPolicy": {"MaximumRetryAttempts": 185,
                                 "MaximumEventAgeInSeconds": 86400},
                 "DeadLetterConfig": {"Arn": dlq}}]

        function = names.lambda_function_name(service, "test", sub.name)
        [statement] = json.loads(lam.get_policy(FunctionName=function)["Policy"])["Statement"]
        assert statement["Sid"] == f"backbone-test-{sub.name}"
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Action"] == "lambda:InvokeFunction"
        assert statement["Resource"] == function_arn
        assert list(statement["Condition"]["ArnLike"].values()) == [rule["Arn"]]
        config = lam.get_function_event_invoke_config(FunctionName=function)
        assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 21600)
        assert config["DestinationConfig"] == {"OnFailure": {"Destination": dlq}}


def test_the_api_handler_is_not_subscribed(stage: Stage, topology_file: Path,
                                           deployed: dict[str, dict[str, str]]) -> None:
    assert _cli(topology_file, "subscribe").exit_code == 0

    lam = AccountSessions(stage).client(ACCOUNTS["order-service"], "lambda")
    api_handler = names.api_handler_function_name("order-service", "test")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_policy(FunctionName=api_handler)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=api_handler)


def test_second_subscribe_and_create_change_nothing(stage: Stage, topology_file: Path,
                                                    deployed: dict[str, dict[str, str]]) -> None:
    first = _cli(topology_file, "subscribe")
    second = _cli(topology_file, "subscribe")
    again = _cli(topology_file, "create")
    verified = _cli(topology_file, "verify")

    assert first.exit_code == 0, first.output
    # Per subscription: PutRule, PutTargets, AddPermission, PutFunctionEventInvokeConfig,
    # PutMetricAlarm.
    assert "stage test: 10 change(s) applied" in first.output
    assert second.exit_code == 0, second.output
    assert second.output.strip().endswith("subscriptions up to date, nothing changed")
    assert again.exit_code == 0, again.output
    assert "stage test: nothing changed, everything is as desired" in again.output
    assert verified.exit_code == 0, verified.output
    assert "everything is as desired, no findings" in verified.output


# --- verify covers the whole stage: deployed functions and subscriptions -------------


def _findings(result: Result) -> list[str]:
    return [line.strip() for line in result.output.splitlines() if line.startswith("  ")]


def test_verify_before_any_deploy_names_each_undeployed_service(
        stage: Stage, topology_file: Path, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    never = subscribing.deployed_function_arns
    monkeypatch.setattr(subscribing, "deployed_function_arns",
                        lambda stage, service: never(stage, service, tmp_path / service))

    verified = _cli(topology_file, "verify")
    infra_only = _cli(topology_file, "verify", "--infra-only")

    assert verified.exit_code == 1
    assert _findings(verified) == [
        f"account {ACCOUNTS[s]}: service {s}: no function deployed for stage test: run "
        f"`chalice deploy --stage test` in {names.service_app_dir(s)}/ with the account's "
        "credentials" for s in ACCOUNTS]
    assert infra_only.exit_code == 0, infra_only.output


def test_verify_finds_deployed_functions_that_are_not_subscribed(
        stage: Stage, topology_file: Path, deployed: dict[str, dict[str, str]]) -> None:
    verified = _cli(topology_file, "verify")

    assert verified.exit_code == 1
    findings = _findings(verified)
    assert len(findings) == 10  # per subscription: rule, targets, permission, invoke config, alarm
    assert all("not subscribed as declared" in f and "`subscribe` repairs it" in f
               for f in findings)
    assert any("local-bus-delivery-service/sub-on_order_created" in f for f in findings)


def test_verify_finds_a_removed_subscription_rule(
        stage: Stage, topology_file: Path, deployed: dict[str, dict[str, str]]) -> None:
    assert _cli(topology_file, "subscribe").exit_code == 0
    events = AccountSessions(stage).client(ACCOUNTS["delivery-service"], "events")
    bus = names.local_bus("delivery-service")
    events.remove_targets(Rule="sub-on_order_created", EventBusName=bus, Ids=["function"])
    events.delete_rule(Name="sub-on_order_created", EventBusName=bus)

    verified = _cli(topology_file, "verify")

    assert verified.exit_code == 1
    findings = _findings(verified)
    assert findings and all(f.startswith("account 333333333333: service delivery-service: "
                                         "not subscribed as declared: ") for f in findings)
    assert any("sub-on_order_created" in f for f in findings)


def test_verify_finds_a_changed_retry_policy_and_a_removed_permission(
        stage: Stage, topology_file: Path, deployed: dict[str, dict[str, str]]) -> None:
    assert _cli(topology_file, "subscribe").exit_code == 0
    sessions = AccountSessions(stage)
    account = ACCOUNTS["order-service"]
    function_arn = deployed["order-service"]["on_delivery_updated"]
    sessions.client(account, "events").put_targets(
        Rule="sub-on_delivery_updated", EventBusName=names.local_bus("order-service"),
        Targets=[{"Id": "function", "Arn": function_arn,
                  "RetryPolicy": {"MaximumRetryAttempts": 0}}])
    sessions.client(account, "lambda").remove_permission(
        FunctionName=names.lambda_function_name("order-service", "test",
                                                "on_delivery_updated"),
        StatementId="backbone-test-on_delivery_updated")

    verified = _cli(topology_file, "verify")

    assert verified.exit_code == 1
    retry, permission = _findings(verified)
    assert "put targets function (changed)" in retry and "sub-on_delivery_updated" in retry
    assert ("let events.amazonaws.com invoke order-service-test-on_delivery_updated"
            in permission)


def test_verify_finds_a_recorded_function_that_is_gone(
        stage: Stage, topology_file: Path, deployed: dict[str, dict[str, str]]) -> None:
    assert _cli(topology_file, "subscribe").exit_code == 0
    api_handler = names.api_handler_function_name("order-service", "test")
    AccountSessions(stage).client(ACCOUNTS["order-service"], "lambda").delete_function(
        FunctionName=api_handler)

    verified = _cli(topology_file, "verify")

    assert verified.exit_code == 1
    assert _findings(verified) == [
        f"account 222222222222: function {api_handler}: recorded in "
        ".chalice/deployed/test.json but it does not exist: run `chalice deploy --stage "
        "test` in order_service/ with the account's credentials"]


# --- a new service: an entry in the topology plus its app folder ---------------------

BILLING = {"name": "billing-service", "account": "444444444444"}
BILLING_APP = '''"""billing-service: bills every order (a third service, added as a user would)."""
from chalice import Chalice

from backbone.envelope import Event
from backbone.subscriptions import subscribe

app = Chalice(app_name="billing-service", configure_logs=False)


@subscribe(app, detail_type="Order.Created", name="on_order_created")
def on_order_created(event: Event) -> None:
    """Bill the order."""
'''


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository holding the two apps; the tools look for apps there."""
    root = tmp_path / "repository"
    for service in ACCOUNTS:
        app_dir = service_dir(service, root)
        app_dir.mkdir(parents=True)
        shutil.copy(service_dir(service) / "app.py", app_dir / "app.py")
    monkeypatch.setattr(service_apps, "REPO_ROOT", root)
    return root


@pytest.fixture
def three_services(tmp_path: Path) -> Path:
    return write_topology(tmp_path, stage_toml(
        "test", credentials=ROLE, services=[ORDER_SERVICE, DELIVERY_SERVICE, BILLING]))


def test_a_new_service_is_a_topology_entry_plus_an_app_folder(
        aws: None, repository: Path, three_services: Path, tmp_path: Path) -> None:
    app_dir = repository / "billing_service"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(BILLING_APP, encoding="utf-8")

    listed = _cli(three_services, "services")
    assert listed.output.splitlines()[-1] == f"billing-service\t444444444444\t{app_dir}\t-"
    assert _cli(three_services, "create").exit_code == 0
    configured = _cli(three_services, "configure")
    assert "wrote billing_service/.chalice/config.json" in configured.output
    stage = load_stage("test", three_services)
    sessions = AccountSessions(stage)
    [function_arn] = _chalice_deploy(sessions, "444444444444", "billing-service",
                                     app_dir).values()
    subscribed = _cli(three_services, "subscribe", "--service", "billing-service")
    # Only billing-service is deployed here: the plumbing is what this test verifies.
    verified = _cli(three_services, "verify", "--infra-only")
    catalog = _cli(three_services, "catalog", "docs", "--output", str(tmp_path / "events.md"))

    assert subscribed.exit_code == 0, subscribed.output
    assert verified.exit_code == 0, verified.output
    events = sessions.client("444444444444", "events")
    bus = "local-bus-billing-service"
    [rule] = events.list_rules(EventBusName=bus, NamePrefix="sub-")["Rules"]
    assert json.loads(rule["EventPattern"]) == {"source": ["order-service"],
                                                "detail-type": ["Order.Created"]}
    [target] = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]
    assert target["Arn"] == function_arn
    forward = sessions.client(BUS_ACCOUNT, "events").list_targets_by_rule(
        Rule="global-to-billing-service", EventBusName="global-bus")["Targets"]
    assert [t["Arn"] for t in forward] == [
        f"arn:aws:events:{REGION}:444444444444:event-bus/{bus}"]
    config = json.loads((app_dir / ".chalice" / "config.json").read_text(encoding="utf-8"))
    assert config["app_name"] == "billing-service"
    assert config["stages"]["test"]["environment_variables"]["TABLE_NAME"] == \
        "billing-service-state"
    assert catalog.exit_code == 0, catalog.output
    document = (tmp_path / "events.md").read_text(encoding="utf-8")
    assert ("| `Order.Created` | `order-service` | `delivery-service.on_order_created`, "
            "`billing-service.on_order_created` |") in document


@pytest.mark.parametrize("command", [["configure"], ["subscribe", "--service", "billing-service"],
                                     ["catalog", "docs"]])
def test_a_service_without_its_app_folder_is_refused_by_what_needs_the_app(
        aws: None, repository: Path, three_services: Path, command: list[str]) -> None:
    result = _cli(three_services, *command)

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: service billing-service: no Chalice app")
    assert str(repository / "billing_service") in line


def test_a_service_without_its_app_folder_still_gets_its_plumbing(
        aws: None, repository: Path, three_services: Path) -> None:
    created = _cli(three_services, "create")

    assert created.exit_code == 0, created.output
    assert _cli(three_services, "verify", "--infra-only").exit_code == 0
    events = AccountSessions(load_stage("test", three_services)).client("444444444444",
                                                                        "events")
    assert "local-bus-billing-service" in [
        b["Name"] for b in events.list_event_buses()["EventBuses"]]
