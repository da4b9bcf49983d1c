"""forwarding = "subscribed" against moto: create, plan, verify and subscribe keep each
forwarding rule to what its service subscribes to; services without an app folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from infra_bootstrap import subscribe as subscribing
from infra_bootstrap.cli import main
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import load_stage
from tests.component.conftest import ApiCalls
from tests.component.test_subscribe import (
    DELIVERY_UPDATED,
    ORDER_AUDIT,
    ORDER_CREATED,
    _deploy,
)
from tests.topologies import DELIVERY_SERVICE, ORDER_SERVICE, ROLE, stage_toml, write_topology

BUS = "111111111111"
# Two services without an app folder: they publish and subscribe from elsewhere.
EXTRA = [{"name": "billing-service", "account": "444444444444"},
         {"name": "audit-service", "account": "555555555555"}]


def _topology(directory: Path, forwarding: str) -> Path:
    return write_topology(directory, stage_toml(
        "test", credentials=ROLE, forwarding=forwarding,
        services=[ORDER_SERVICE, DELIVERY_SERVICE, *EXTRA]))


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(config), "--stage", "test"])


def _forward_rules(config: Path) -> dict[str, Any]:
    events = AccountSessions(load_stage("test", config)).client(BUS, "events")
    return {rule["Name"]: json.loads(rule["EventPattern"])
            for rule in events.list_rules(EventBusName="global-bus",
                                          NamePrefix="global-to-")["Rules"]}


@pytest.fixture
def subscribed(aws: None, tmp_path: Path) -> Path:
    config = _topology(tmp_path, "subscribed")
    result = cli(config, "create")
    assert result.exit_code == 0, result.output
    return config


def test_create_forwards_to_each_service_only_what_it_subscribes_to(subscribed: Path) -> None:
    assert _forward_rules(subscribed) == {
        "global-to-delivery-service": {"source": ["order-service"],
                                       "detail-type": ["Order.Created"]},
        "global-to-order-service": {"source": ["delivery-service"],
                                    "detail-type": ["Delivery.Updated"]}}


def test_a_second_create_changes_nothing_and_verify_is_clean(
        subscribed: Path, api_calls: ApiCalls) -> None:
    again = cli(subscribed, "create")
    assert again.exit_code == 0, again.output
    assert "nothing changed" in again.output
    assert api_calls.mutating == []
    report = cli(subscribed, "verify", "--infra-only")
    assert report.exit_code == 0, report.output


def test_switching_from_all_narrows_the_rules_and_removes_the_unsubscribed(
        aws: None, tmp_path: Path) -> None:
    (tmp_path / "all").mkdir()
    everything = _topology(tmp_path / "all", "all")
    assert cli(everything, "create").exit_code == 0
    assert set(_forward_rules(everything)) == {f"global-to-{s['name']}" for s in
                                              [ORDER_SERVICE, DELIVERY_SERVICE, *EXTRA]}

    only = _topology(tmp_path, "subscribed")
    shown = cli(only, "plan")
    assert shown.exit_code == 0, shown.output
    assert ('update pattern and description of rule global-bus/global-to-delivery-service to '
            '{"source":["order-service"],"detail-type":["Order.Created"]}') in shown.output
    assert "delete rule global-bus/global-to-billing-service" in shown.output

    assert cli(only, "create").exit_code == 0
    assert set(_forward_rules(only)) == {"global-to-delivery-service",
                                         "global-to-order-service"}
    assert cli(only, "verify", "--infra-only").exit_code == 0


def test_verify_flags_a_subscription_the_global_bus_no_longer_forwards(
        subscribed: Path) -> None:
    events = AccountSessions(load_stage("test", subscribed)).client(BUS, "events")
    events.put_rule(Name="global-to-delivery-service", EventBusName="global-bus",
                    EventPattern=json.dumps({"source": ["order-service"],
                                             "detail-type": ["Order.Updated"]}),
                    Description="Events its subscriptions need to delivery-service's local bus")

    report = cli(subscribed, "verify", "--infra-only")

    assert report.exit_code == 1
    assert (f"account {BUS}: rule global-bus/global-to-delivery-service: subscription "
            "on_order_created: Order.Created from order-service is not forwarded to "
            "local-bus-delivery-service: the pattern of rule global-to-delivery-service does "
            "not match it (run `create` to widen it)") in report.output
    assert cli(subscribed, "create").exit_code == 0
    assert cli(subscribed, "verify", "--infra-only").exit_code == 0


def test_subscribe_widens_the_forwarding_rule_of_a_new_subscription(subscribed: Path) -> None:
    stage = load_stage("test", subscribed)
    sessions = AccountSessions(stage)
    declared = {"delivery-service": (ORDER_CREATED, ORDER_AUDIT),
                "order-service": (DELIVERY_UPDATED,)}
    arns = {service: _deploy(sessions, service, subs) for service, subs in declared.items()}

    result = subscribing.subscribe(stage, sessions, arns, subscriptions=declared)

    assert "PutRule" in {c.api_name.split(":")[-1] for c in result.calls
                         if c.account == BUS}
    # ORDER_AUDIT takes every detail-type of order-service: the rule drops the key.
    assert _forward_rules(subscribed)["global-to-delivery-service"] == {
        "source": ["order-service"]}
    again = subscribing.subscribe(stage, sessions, arns, subscriptions=declared)
    assert not again.changed
