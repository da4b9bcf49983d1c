"""--adopt: naming a conflict to take over, and every way of naming something else."""

from __future__ import annotations

import dataclasses

import pytest

from infra_bootstrap import names
from infra_bootstrap import resources as r
from infra_bootstrap.adoption import parse_ref, resolve
from infra_bootstrap.desired import desired_resources
from infra_bootstrap.errors import AdoptError
from infra_bootstrap.resources import Resource
from infra_bootstrap.topology import load_stage

STAGE = "test"
BUS, ORDER, DELIVERY = "111111111111", "222222222222", "333333333333"
POLICY = names.logs_resource_policy(STAGE)
DESIRED = desired_resources(dataclasses.replace(load_stage("local"), name=STAGE))


def _handmade(kind: str, account: str, name: str, **props: object) -> Resource:
    """A resource of the stage's name, made by hand: untagged, no stage Sid."""
    desired = next(x for x in DESIRED if x.key == (kind, account, name))
    tags: dict[str, str] | None = None if desired.tags is None else {}
    merged = {**desired.props, **props}
    if kind == r.LOGS_RESOURCE_POLICY:
        merged["document"] = {"Statement": [{"Sid": "Mine"}]}
    return dataclasses.replace(desired, props=merged, tags=tags, parent_tags={})


HANDMADE = [
    _handmade(r.EVENT_BUS, BUS, "global-bus"),
    _handmade(r.DYNAMODB_TABLE, ORDER, "order-service-state"),
    _handmade(r.DYNAMODB_TABLE, DELIVERY, "delivery-service-state", hash_key="id",
              range_key=None),
    _handmade(r.ARCHIVE, BUS, "global-bus-archive", description="mine"),
    *[_handmade(r.LOGS_RESOURCE_POLICY, account, POLICY) for account in (BUS, ORDER, DELIVERY)],
]


def _resolve(*refs: str) -> frozenset[tuple[str, str, str]]:
    return resolve(refs, DESIRED, HANDMADE, stage=STAGE, kinds=r.INFRA_KINDS)


def test_a_conflict_is_named_as_plan_prints_it() -> None:
    assert _resolve("event_bus/global-bus", f"{ORDER}:dynamodb_table/order-service-state") \
        == {(r.EVENT_BUS, BUS, "global-bus"), (r.DYNAMODB_TABLE, ORDER, "order-service-state")}
    assert _resolve(f"{DELIVERY}:logs_resource_policy/{POLICY}") == {
        (r.LOGS_RESOURCE_POLICY, DELIVERY, POLICY)}


def test_refs_with_slashes_in_the_name() -> None:
    assert parse_ref("log_group//aws/events/backbone/global-bus") == (
        None, "log_group", "/aws/events/backbone/global-bus")
    assert parse_ref(f"{BUS}:rule/global-bus/log-all-events") == (
        BUS, "rule", "global-bus/log-all-events")


@pytest.mark.parametrize(("refs", "message"), [
    (["global-bus"], "--adopt global-bus: expected KIND/NAME or ACCOUNT:KIND/NAME"),
    (["bucket/global-bus"], "--adopt bucket/global-bus: unknown kind bucket (one of: iam_role, "
                            "sqs_queue, log_group, logs_resource_policy, dynamodb_table, "
                            "event_bus, archive, rule, alarm)"),
    (["subscription_rule/local-bus-order-service/sub-x"],
     "--adopt subscription_rule/local-bus-order-service/sub-x: unknown kind subscription_rule"),
    (["sqs_queue/global-bus-forward-dlq"],
     "--adopt sqs_queue/global-bus-forward-dlq: not a conflict: nothing of that name exists "
     "that stage test would create and does not own"),
    (["event_bus/payments-bus"], "--adopt event_bus/payments-bus: not a conflict"),
    ([f"{ORDER}:event_bus/global-bus"], f"--adopt {ORDER}:event_bus/global-bus: not a conflict"),
    ([f"logs_resource_policy/{POLICY}"],
     f"--adopt logs_resource_policy/{POLICY}: a conflict in accounts {BUS}, {ORDER}, "
     f"{DELIVERY}: name the account, e.g. --adopt {BUS}:logs_resource_policy/{POLICY}"),
    (["dynamodb_table/delivery-service-state"],
     "--adopt dynamodb_table/delivery-service-state: cannot adopt DynamoDB table "
     f"delivery-service-state in account {DELIVERY}: its key schema (id) is not pk/sk, and the "
     "keys of a table cannot change"),
    (["archive/global-bus-archive"],
     f"--adopt archive/global-bus-archive: cannot adopt archive global-bus-archive in account "
     f"{BUS}: it archives event bus global-bus, which stage test does not own: adopt "
     "event_bus/global-bus as well"),
])
def test_what_cannot_be_adopted_is_one_line_with_exit_code_2(refs: list[str],
                                                             message: str) -> None:
    with pytest.raises(AdoptError) as raised:
        _resolve(*refs)

    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
    assert raised.value.exit_code == 2


def test_an_archive_is_adopted_together_with_its_bus() -> None:
    assert _resolve("archive/global-bus-archive", "event_bus/global-bus") == {
        (r.ARCHIVE, BUS, "global-bus-archive"), (r.EVENT_BUS, BUS, "global-bus")}


def test_what_the_stage_owns_already_is_said_so() -> None:
    owned = dataclasses.replace(HANDMADE[0], tags=names.tags(STAGE))

    with pytest.raises(AdoptError, match="already owned by stage test"):
        resolve(["event_bus/global-bus"], DESIRED, [owned], stage=STAGE, kinds=r.INFRA_KINDS)
