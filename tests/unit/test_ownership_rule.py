"""The ownership rule, kind by kind: what the stage made, and look-alikes it did not."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from infra_bootstrap import names
from infra_bootstrap import resources as r
from infra_bootstrap.desired import archive_description, desired_resources
from infra_bootstrap.ownership import foreign_additions, owned, split_policy
from infra_bootstrap.resources import Resource
from infra_bootstrap.subscribe import desired_subscriptions
from infra_bootstrap.topology import Stage, load_stage

STAGE = "test"
TAGS = names.tags(STAGE)
# What Chalice puts on a function deployed with the config `configure` writes.
FUNCTION_TAGS = {**TAGS, "aws-chalice": "version=1.31.0:stage=test:app=delivery-service"}


def _stage() -> Stage:
    return dataclasses.replace(load_stage("local"), name=STAGE)


@dataclasses.dataclass(frozen=True)
class _Sub:
    name: str
    event_pattern: dict[str, Any]


def _as_made_by_the_stage(resource: Resource) -> Resource:
    """What the reader reports once `create` / `subscribe` made ``resource``."""
    parent = FUNCTION_TAGS if resource.kind in {r.LAMBDA_PERMISSION, r.INVOKE_CONFIG} else (
        TAGS if resource.kind == r.ARCHIVE else None)
    return dataclasses.replace(resource, parent_tags=parent)


def _everything() -> list[Resource]:
    stage = _stage()
    service = stage.service("delivery-service")
    function = names.lambda_function_arn(stage.region, service.account,
                                         "delivery-service-test-on_order_created")
    subs = desired_subscriptions(stage, service, [_Sub("on_order_created", {"source": ["x"]})],
                                 {"on_order_created": function})
    return [_as_made_by_the_stage(x) for x in desired_resources(stage) + subs]


def test_every_kind_the_stage_makes_is_owned_by_it_and_no_other_stage() -> None:
    made = _everything()

    assert {x.kind for x in made} == set(r.PHASES)
    assert [x.label for x in made if not owned(x, STAGE)] == []
    assert [x.label for x in made if owned(x, "prod")] == []


def _handmade(resource: Resource) -> Resource:
    """The same name made by hand: no tags, no stage Sids, descriptions of its own."""
    props = dict(resource.props)
    if resource.kind == r.LOGS_RESOURCE_POLICY:
        props["document"] = {"Version": "2012-10-17", "Statement": [
            {"Sid": "TeamLogs", "Effect": "Allow", "Principal": {"Service": "x"}}]}
    if resource.kind == r.ARCHIVE:
        props["description"] = "our own archive"
    if resource.kind == r.LAMBDA_PERMISSION:
        props["statement_id"] = "AllowEvents"
    tags = None if resource.tags is None else {"team": "payments"}
    parent = {"team": "payments"} if resource.parent_tags is not None else None
    return dataclasses.replace(resource, props=props, tags=tags, parent_tags=parent)


@pytest.mark.parametrize("kind", r.PHASES)
def test_a_handmade_look_alike_of_every_kind_is_not_owned(kind: str) -> None:
    for resource in (x for x in _everything() if x.kind == kind):
        assert not owned(_handmade(resource), STAGE), resource.label


def test_tags_must_both_be_there_and_name_the_stage() -> None:
    bus = next(x for x in _everything() if x.kind == r.EVENT_BUS)

    assert owned(dataclasses.replace(bus, tags={**TAGS, "cost-centre": "42"}), STAGE)
    assert not owned(dataclasses.replace(bus, tags={names.TAG_STAGE: STAGE}), STAGE)
    assert not owned(dataclasses.replace(bus, tags=names.tags("prod")), STAGE)
    assert not owned(dataclasses.replace(bus, tags=None), STAGE)


def test_an_archive_needs_both_its_description_marker_and_an_owned_bus() -> None:
    archive = next(x for x in _everything() if x.kind == r.ARCHIVE)
    assert archive.props["description"] == archive_description(_stage())

    assert not owned(dataclasses.replace(archive, parent_tags={}), STAGE)
    assert not owned(dataclasses.replace(archive, props={**archive.props,
                                                          "description": "for replay"}), STAGE)
    other_stage = {**archive.props, "description": "x " + names.stage_marker("prod")}
    assert not owned(dataclasses.replace(archive, props=other_stage), STAGE)


def test_a_logs_resource_policy_needs_the_stage_s_name_and_one_of_its_statements() -> None:
    policy = next(x for x in _everything() if x.kind == r.LOGS_RESOURCE_POLICY)
    assert policy.name == "backbone-test-eventbridge-to-event-logs"

    renamed = dataclasses.replace(policy, name="backbone-eventbridge-to-event-logs")
    assert not owned(renamed, STAGE)
    only_theirs = {"Statement": [{"Sid": "Theirs"}]}
    assert not owned(dataclasses.replace(policy, props={"document": only_theirs}), STAGE)
    with_theirs = {"Statement": [*policy.props["document"]["Statement"], {"Sid": "Theirs"}]}
    assert owned(dataclasses.replace(policy, props={"document": with_theirs}), STAGE)


def test_a_lambda_permission_needs_the_stage_s_sid_on_a_function_tagged_for_it() -> None:
    permission = next(x for x in _everything() if x.kind == r.LAMBDA_PERMISSION)
    assert permission.props["statement_id"] == "backbone-test-on_order_created"

    assert not owned(dataclasses.replace(permission, parent_tags=names.tags("prod")), STAGE)
    assert not owned(dataclasses.replace(permission, parent_tags={}), STAGE)
    prod_sid = {**permission.props, "statement_id": "backbone-prod-on_order_created"}
    assert not owned(dataclasses.replace(permission, props=prod_sid), STAGE)


def test_an_invoke_config_is_the_stage_s_on_a_function_tagged_for_it() -> None:
    config = next(x for x in _everything() if x.kind == r.INVOKE_CONFIG)

    assert not owned(dataclasses.replace(config, parent_tags={"aws-chalice": "x"}), STAGE)


def test_policies_split_into_the_stage_s_statements_and_everyone_else_s() -> None:
    policy = {"Statement": [{"Sid": "backbone-test-A"}, {"Sid": "backbone-testing-B"},
                            {"Sid": "backbone-A"}, {"Effect": "Allow"}]}

    ours, others = split_policy(policy, STAGE)

    assert [s.get("Sid") for s in ours] == ["backbone-test-A"]
    assert [s.get("Sid") for s in others] == ["backbone-testing-B", "backbone-A", None]


def test_nothing_foreign_on_what_the_stage_made() -> None:
    made = [dataclasses.replace(x, props={**x.props, "rules": {}, "managed_policies": []})
            for x in _everything()]

    assert {x.label: foreign_additions(x, STAGE) for x in made if foreign_additions(x, STAGE)} \
        == {}


def test_foreign_additions_of_each_kind_are_named() -> None:
    made = {x.key: x for x in _everything()}
    bus = made[(r.EVENT_BUS, "111111111111", "global-bus")]
    rule = made[(r.RULE, "111111111111", "global-bus/log-all-events")]
    role = made[(r.IAM_ROLE, "111111111111", "backbone-forward-to-order-service")]
    queue = made[(r.SQS_QUEUE, "111111111111", "global-bus-forward-dlq")]
    theirs = {"Sid": "Audit", "Effect": "Allow"}

    spied_bus = dataclasses.replace(bus, props={
        **bus.props, "rules": {"log-all-events": TAGS, "audit": {}},
        "policy": {"Statement": [*bus.props["policy"]["Statement"], theirs]}})
    spied_rule = dataclasses.replace(rule, props={
        **rule.props, "targets": (*rule.props["targets"], {"Id": "copy", "Arn": "arn:q"})})
    widened_role = dataclasses.replace(role, props={
        **role.props, "policies": {**role.props["policies"], "extra": {}},
        "managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"]})
    shared_queue = dataclasses.replace(queue, props={
        **queue.props, "policy": {"Statement": [*queue.props["policy"]["Statement"], theirs]}})

    assert foreign_additions(spied_bus, STAGE) == ["policy statement Audit", "rule audit"]
    assert foreign_additions(spied_rule, STAGE) == ["target copy (arn:q)"]
    assert foreign_additions(widened_role, STAGE) == [
        "inline policy extra", "managed policy arn:aws:iam::aws:policy/AdministratorAccess"]
    assert foreign_additions(shared_queue, STAGE) == ["policy statement Audit"]
