"""Forwarding "all" or "subscribed": the topology option, the rule's pattern, verify's check."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from backbone.subscriptions import Subscription
from infra_bootstrap import names
from infra_bootstrap import resources as r
from infra_bootstrap.cli import main
from infra_bootstrap.declared import declared_by_service
from infra_bootstrap.desired import desired_resources, forwarding_pattern
from infra_bootstrap.findings import forwarding_findings
from infra_bootstrap.resources import Resource, rule_name
from infra_bootstrap.topology import Stage, load_stage, parse_stage
from localcloud.patterns import compile_pattern
from tests.topologies import ORDER_SERVICE, stage_toml, write_topology

BUS = "111111111111"
ORDER_CREATED = {"source": ["order-service"], "detail-type": ["Order.Created"]}
DELIVERY_UPDATED = {"source": ["delivery-service"], "detail-type": ["Delivery.Updated"]}


def _stage(forwarding: str = "subscribed", extra: int = 0) -> Stage:
    services = [{"name": "order-service", "account": "222222222222"},
                {"name": "delivery-service", "account": "333333333333"}]
    services += [{"name": f"svc-{i:02d}", "account": f"{400000000000 + i}"}
                 for i in range(extra)]
    return parse_stage("s", {"region": "eu-west-1", "bus_account": BUS,
                             "forwarding": forwarding, "services": services})


def _forward_rules(resources: list[Resource]) -> dict[str, Any]:
    prefix = rule_name(names.GLOBAL_BUS, names.forward_rule_name(""))
    return {x.name.removeprefix(prefix): x.props["pattern"] for x in resources
            if x.kind == r.RULE and x.name.startswith(prefix)}


# --- the topology option ---------------------------------------------------------------


def test_forwarding_defaults_to_all() -> None:
    assert load_stage("local").forwarding == "all"
    assert _stage("subscribed").forwarding == "subscribed"


def test_an_unknown_forwarding_mode_is_one_line_exit_2(tmp_path: Path) -> None:
    path = write_topology(tmp_path, stage_toml("s", services=[ORDER_SERVICE],
                                               forwarding="some"))
    result = CliRunner().invoke(main, ["plan", "--stage", "s", "--config", str(path)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: topology.toml: stages.s.forwarding: 'some' must be \"all\" or \"subscribed\"")


# --- the forwarding rule's pattern -----------------------------------------------------


def test_all_forwards_every_event_of_the_other_services() -> None:
    rules = _forward_rules(desired_resources(_stage("all")))
    assert rules == {"order-service": {"source": [{"anything-but": "order-service"}]},
                     "delivery-service": {"source": [{"anything-but": "delivery-service"}]}}


def test_subscribed_forwards_only_what_each_service_subscribes_to() -> None:
    rules = _forward_rules(desired_resources(_stage(extra=3), {
        "delivery-service": [ORDER_CREATED], "order-service": [DELIVERY_UPDATED]}))
    assert rules == {"delivery-service": ORDER_CREATED, "order-service": DELIVERY_UPDATED}


def test_a_service_without_subscriptions_gets_no_rule_but_keeps_its_role() -> None:
    resources = desired_resources(_stage(extra=1), {"delivery-service": [ORDER_CREATED]})
    assert set(_forward_rules(resources)) == {"delivery-service"}
    roles = {x.name for x in resources if x.kind == r.IAM_ROLE}
    assert names.forward_role_name("svc-00") in roles


def test_several_subscriptions_widen_one_rule_sorted() -> None:
    updated = {"source": ["order-service"], "detail-type": ["Order.Updated"]}
    pattern = forwarding_pattern(_stage(), "svc-00",
                                 [updated, DELIVERY_UPDATED, ORDER_CREATED])
    assert pattern == {"source": ["delivery-service", "order-service"],
                       "detail-type": ["Delivery.Updated", "Order.Created", "Order.Updated"]}


def test_a_services_own_events_are_never_forwarded_to_it() -> None:
    assert forwarding_pattern(_stage(), "order-service", [
        {"source": ["order-service"], "detail-type": ["Order.Updated"]}]) is None
    mixed = {"source": ["order-service", "delivery-service"], "detail-type": ["X"]}
    assert forwarding_pattern(_stage(), "order-service", [mixed]) == {
        "source": ["delivery-service"], "detail-type": ["X"]}


def test_a_pattern_beyond_plain_names_widens_rather_than_loses_events() -> None:
    prefix_source = {"source": [{"prefix": "order"}], "detail-type": ["Order.Created"]}
    pattern = forwarding_pattern(_stage(), "delivery-service", [prefix_source])
    assert pattern == {"source": [{"anything-but": "delivery-service"}],
                       "detail-type": ["Order.Created"]}
    any_type = forwarding_pattern(_stage(), "delivery-service", [{"source": ["order-service"]}])
    assert any_type == {"source": ["order-service"]}


def test_every_subscribed_event_matches_the_rule_and_others_do_not() -> None:
    pattern = forwarding_pattern(_stage(), "delivery-service", [ORDER_CREATED])
    assert pattern is not None
    rule = compile_pattern(pattern)
    assert rule.matches({"source": "order-service", "detail-type": "Order.Created"})
    assert not rule.matches({"source": "order-service", "detail-type": "Order.Updated"})
    assert not rule.matches({"source": "svc-01", "detail-type": "Order.Created"})


def test_services_without_an_app_folder_declare_nothing() -> None:
    declared = declared_by_service(_stage(extra=2))
    assert declared["svc-00"] == declared["svc-01"] == ()
    assert [s.event_pattern for s in declared["delivery-service"]] == [ORDER_CREATED]


# --- verify: a subscription whose events would not be forwarded -------------------------


def _rule(service: str, pattern: dict[str, Any], state: str = "ENABLED") -> Resource:
    rule = names.forward_rule_name(service)
    return Resource(r.RULE, BUS, rule_name(names.GLOBAL_BUS, rule),
                    {"bus": names.GLOBAL_BUS, "rule": rule, "pattern": pattern,
                     "state": state}, names.tags("s"))


SUB = Subscription("on_order_created", ORDER_CREATED, handler=print)


def test_verify_is_quiet_when_the_rule_forwards_the_subscription() -> None:
    for pattern in (ORDER_CREATED, {"source": [{"anything-but": "delivery-service"}]}):
        rules = [_rule("delivery-service", pattern)]
        assert forwarding_findings(_stage(), rules, {"delivery-service": [SUB]}) == []


@pytest.mark.parametrize(("rules", "why"), [
    ([], "no rule global-to-delivery-service on global-bus"),
    ([_rule("delivery-service", DELIVERY_UPDATED)],
     "the pattern of rule global-to-delivery-service does not match it (run `create` to "
     "widen it)"),
    ([_rule("delivery-service", ORDER_CREATED, state="DISABLED")],
     "rule global-to-delivery-service is DISABLED"),
])
def test_verify_flags_a_subscription_the_rule_does_not_forward(
        rules: list[Resource], why: str) -> None:
    found = forwarding_findings(_stage(), rules, {"delivery-service": [SUB]})
    assert [str(f) for f in found] == [
        f"account {BUS}: rule global-bus/global-to-delivery-service: subscription "
        f"on_order_created: Order.Created from order-service is not forwarded to "
        f"local-bus-delivery-service: {why}"]


def test_verify_flags_a_subscription_to_the_services_own_events() -> None:
    own = Subscription("on_own", {"source": ["delivery-service"], "detail-type": ["X"]},
                       handler=print)
    stage = dataclasses.replace(_stage(), forwarding="all")
    found = forwarding_findings(stage, [_rule("delivery-service", ORDER_CREATED)],
                                {"delivery-service": [own]})
    assert [f.message.rsplit(": ", 1)[1] for f in found] == [
        "a service's own events never come back to its own bus"]
