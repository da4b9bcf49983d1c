"""`create` then `subscribe` with the real order and delivery apps.

The subscriptions come from importing the real Chalice apps; `chalice deploy` is stood in
for by creating each function in moto (execution role + zip) and writing Chalice's
deployed state (``.chalice/deployed/<stage>.json``) into a temporary service folder.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from backbone.subscriptions import Subscription, subscriptions_of
from infra_bootstrap import names
from infra_bootstrap import subscribe as subscribing
from infra_bootstrap.cli import main
from infra_bootstrap.service_apps import load_app
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import Stage, load_stage

REGION = "eu-west-1"
ACCOUNTS = {"order-service": "222222222222", "delivery-service": "333333333333"}
TAGS = {"backbone:project": "cross-account-backbone", "backbone:stage": "test"}
# What each service reacts to (DESIGN.md §1): the rule on its own bus must match this.
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


def _chalice_deploy(sessions: AccountSessions, service: str,
                    subscriptions: tuple[Subscription, ...], directory: Path) -> dict[str, str]:
    """What `chalice deploy --stage test` leaves behind: functions and deployed state.

    Chalice names functions ``<app>-<stage>-<name>`` (the route handler ``<app>-<stage>``)
    and records them in ``.chalice/deployed/<stage>.json`` under their logical names.
    """
    account = ACCOUNTS[service]
    role_name = names.lambda_execution_role_name(service, "test")
    role_arn = sessions.client(account, "iam").create_role(
        RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    functions = {sub.name: names.lambda_function_name(service, "test", sub.name)
                 for sub in subscriptions}
    if service == "order-service":  # the app has routes: Chalice deploys an API handler
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
    if service == "order-service":
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
def deployed(stage: Stage, declared: dict[str, tuple[Subscription, ...]], tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    """Deploy both services; `subscribe` reads their deployed state from ``tmp_path``."""
    sessions = AccountSessions(stage)
    dirs = {service: tmp_path / names.service_app_dir(service) for service in ACCOUNTS}
    arns = {service: _chalice_deploy(sessions, service, declared[service], dirs[service])
            for service in ACCOUNTS}
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
    # Per subscription: PutRule, PutTargets, AddPermission, PutFunctionEventInvokeConfig.
    assert "stage test: 8 change(s) applied" in first.output
    assert second.exit_code == 0, second.output
    assert second.output.strip().endswith("subscriptions up to date, nothing changed")
    assert again.exit_code == 0, again.output
    assert "stage test: nothing changed, everything is as desired" in again.output
    assert verified.exit_code == 0, verified.output
    assert "everything is as desired, no findings" in verified.output
