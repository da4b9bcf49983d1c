"""teardown: delete what the stage owns, keep what holds data or carries someone else's parts."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from infra_bootstrap import names
from infra_bootstrap import resources as r
from infra_bootstrap.desired import desired_resources
from infra_bootstrap.resources import Data, Resource
from infra_bootstrap.teardown import DELETE, KEEP, STRIP, Step, decide, live_remaining, teardown
from infra_bootstrap.topology import load_stage

STAGE = "test"
TAGS = names.tags(STAGE)
BUS, ORDER = "111111111111", "222222222222"
GLOBAL_BUS = (r.EVENT_BUS, BUS, "global-bus")
ARCHIVE = (r.ARCHIVE, BUS, "global-bus-archive")
LOG_RULE = (r.RULE, BUS, "global-bus/log-all-events")


def _made() -> dict[tuple[str, str, str], Resource]:
    """Every resource of the stage as the reader reports it after `create`, empty."""
    desired = desired_resources(dataclasses.replace(load_stage("local"), name=STAGE))
    rules_of: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
    for x in desired:
        if x.kind == r.RULE:
            rules_of.setdefault((x.account, x.props["bus"]), {})[x.props["rule"]] = TAGS
    out = {}
    for x in desired:
        props: dict[str, Any] = {**x.props, "arn": f"arn:for:{x.name}"}
        if x.kind == r.SQS_QUEUE:
            props["url"] = f"https://sqs/{x.account}/{x.name}"
        if x.kind == r.EVENT_BUS:
            props["arn"] = names.bus_arn("eu-west-1", x.account, x.name)
            props["rules"] = rules_of.get((x.account, x.name), {})
            props["archives"] = ["global-bus-archive"] if x.name == "global-bus" else []
        data = {r.SQS_QUEUE: Data(0, "message"), r.DYNAMODB_TABLE: Data(0, "item"),
                r.ARCHIVE: Data(0, "event"), r.LOG_GROUP: Data(0, "log event")}.get(x.kind)
        out[x.key] = dataclasses.replace(x, props=props, data=data,
                                         parent_tags=TAGS if x.kind == r.ARCHIVE else None)
    return out


def _by_key(steps: list[Step]) -> dict[tuple[str, str, str], Step]:
    return {s.resource.key: s for s in steps}


def test_everything_empty_and_untouched_is_deleted() -> None:
    steps = teardown(_made().values(), STAGE, discard_data=False)

    assert {s.action for s in steps} == {DELETE}
    # The alarms go first, then the rules (targets first), ... (resources.PHASES reversed).
    kinds = [s.resource.kind for s in steps]
    assert kinds[:8] == [r.ALARM] * 8
    assert kinds[8:11] == [r.RULE] * 3


def test_whatever_holds_data_is_kept_with_its_count() -> None:
    made = _made()
    holding = {
        (r.SQS_QUEUE, ORDER, "order-service-handler-dlq"): Data(3, "message"),
        (r.DYNAMODB_TABLE, ORDER, "order-service-state"): Data(1, "item", at_least=True),
        (r.LOG_GROUP, BUS, "/aws/events/backbone/global-bus"): Data(1, "log event",
                                                                    at_least=True),
    }
    for key, data in holding.items():
        made[key] = dataclasses.replace(made[key], data=data)

    steps = _by_key(teardown(made.values(), STAGE, discard_data=False))

    assert {k: (steps[k].action, steps[k].reason, steps[k].calls) for k in holding} == {
        (r.SQS_QUEUE, ORDER, "order-service-handler-dlq"): (KEEP, "holds 3 messages", []),
        (r.DYNAMODB_TABLE, ORDER, "order-service-state"): (KEEP, "holds at least 1 item", []),
        (r.LOG_GROUP, BUS, "/aws/events/backbone/global-bus"): (
            KEEP, "holds at least 1 log event", []),
    }
    discarded = _by_key(teardown(made.values(), STAGE, discard_data=True))
    assert {discarded[k].action for k in holding} == {DELETE}


def test_an_archive_holding_events_keeps_its_bus() -> None:
    made = _made()
    made[ARCHIVE] = dataclasses.replace(made[ARCHIVE], data=Data(12, "event"))

    steps = _by_key(teardown(made.values(), STAGE, discard_data=False))

    assert steps[ARCHIVE].action == KEEP
    assert steps[GLOBAL_BUS].action == STRIP
    assert steps[GLOBAL_BUS].reason == "still carries archive global-bus-archive"
    # Only the stage's statements leave the bus; the rules on it are deleted.
    assert {c.operation for c in steps[GLOBAL_BUS].calls} == {"remove_permission"}
    assert steps[LOG_RULE].action == DELETE


def test_a_bus_with_someone_else_s_rule_is_kept_and_the_rule_named() -> None:
    made = _made()
    bus = made[GLOBAL_BUS]
    made[GLOBAL_BUS] = dataclasses.replace(bus, props={
        **bus.props, "rules": {**bus.props["rules"], "audit": {"team": "payments"}}})

    step = _by_key(teardown(made.values(), STAGE, discard_data=False))[GLOBAL_BUS]

    assert step.action == STRIP
    assert step.reason == "still carries rule audit (not the stage's)"
    assert "delete_event_bus" not in [c.operation for c in step.calls]


def test_someone_else_s_target_on_our_rule_keeps_the_rule_and_its_bus() -> None:
    made = _made()
    rule = made[LOG_RULE]
    made[LOG_RULE] = dataclasses.replace(rule, props={
        **rule.props, "targets": (*rule.props["targets"], {"Id": "copy", "Arn": "arn:q"})})

    steps = _by_key(teardown(made.values(), STAGE, discard_data=False))

    [remove] = steps[LOG_RULE].calls
    assert (steps[LOG_RULE].action, remove.operation, remove.params["Ids"]) == (
        STRIP, "remove_targets", [names.LOG_TARGET_ID])
    assert steps[GLOBAL_BUS].reason == "still carries rule log-all-events"


def test_a_statement_someone_added_to_our_queue_policy_stays() -> None:
    made = _made()
    key = (r.SQS_QUEUE, BUS, "global-bus-forward-dlq")
    theirs = {"Sid": "Replay", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::9:root"},
              "Action": "sqs:ReceiveMessage"}
    queue = made[key]
    made[key] = dataclasses.replace(queue, props={**queue.props, "policy": {
        "Statement": [*queue.props["policy"]["Statement"], theirs]}})

    step = _by_key(teardown(made.values(), STAGE, discard_data=True))[key]

    [call] = step.calls
    assert (step.action, call.operation) == (STRIP, "set_queue_attributes")
    assert json.loads(call.params["Attributes"]["Policy"])["Statement"] == [theirs]


def test_the_live_check_of_a_bus_counts_every_rule_and_archive_left() -> None:
    bus = _made()[GLOBAL_BUS]

    assert live_remaining(bus) == ["rule global-to-delivery-service",
                                   "rule global-to-order-service", "rule log-all-events",
                                   "archive global-bus-archive"]
    emptied = dataclasses.replace(bus, props={**bus.props, "rules": {}, "archives": []})
    assert decide(emptied, STAGE, discard_data=False,
                  remaining=live_remaining(emptied)).action == DELETE
