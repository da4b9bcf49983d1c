"""``backbone.idempotency.claim`` on a DynamoDB table in moto: the protocol, step by step.

The handlers' behaviour under duplicates is pinned in tests/component/services; these
tests pin the claim itself, whatever handler uses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from backbone import idempotency
from backbone.idempotency import Condition, DuplicateInProgress, LeaseLost, claim
from backbone.store import Table
from tests.tables import create_table

KEY = ("THING#1", "THING")
FLAG = "published"


class Refused(Exception):
    """A domain error a handler's ``refuse`` raises."""


@pytest.fixture
def table(aws: None) -> Iterator[Table]:
    client = boto3.client("dynamodb")
    create_table(client, "things-state")
    yield Table("things-state", client=client)


def stored(table: Table) -> dict[str, Any]:
    item = table.get(*KEY)
    assert item is not None
    return item


def later_than_any_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time moves past every lease taken so far (a dead owner's included)."""
    later = idempotency.now_ms() + idempotency.MAX_LAMBDA_RUNTIME_MS + 60_000
    monkeypatch.setattr(idempotency, "now_ms", lambda: later)


def test_the_first_claim_changes_state_and_takes_the_lease_in_one_write(table: Table) -> None:
    held = claim(table, KEY, create={"value": 1}, flag=FLAG)

    assert held is not None and not held.resumed
    assert stored(table) == {"pk": "THING#1", "sk": "THING", "value": 1, FLAG: False,
                             "leaseOwner": held.lease.owner, "leaseUntil": held.lease.until_ms}
    assert held.item == stored(table)


def test_leaving_the_block_marks_published_and_drops_the_lease(table: Table) -> None:
    held = claim(table, KEY, create={"value": 1}, flag=FLAG)
    assert held is not None

    with held:
        assert stored(table)[FLAG] is False  # not before the block has published

    assert stored(table) == {"pk": "THING#1", "sk": "THING", "value": 1, FLAG: True}
    assert held.item == stored(table)


def test_a_duplicate_of_finished_work_gets_none_and_changes_nothing(table: Table) -> None:
    first = claim(table, KEY, create={"value": 1}, flag=FLAG)
    assert first is not None
    with first:
        pass

    assert claim(table, KEY, create={"value": 2}, flag=FLAG) is None
    assert stored(table)["value"] == 1


def test_a_concurrent_duplicate_raises_duplicate_in_progress(table: Table) -> None:
    first = claim(table, KEY, create={"value": 1}, flag=FLAG)
    assert first is not None

    with pytest.raises(DuplicateInProgress, match="THING#1: another invocation is working"):
        claim(table, KEY, create={"value": 2}, flag=FLAG)
    assert stored(table)["leaseOwner"] == first.lease.owner


def test_an_error_releases_the_lease_and_the_retry_resumes_from_the_stored_state(
        table: Table) -> None:
    first = claim(table, KEY, create={"value": 1}, flag=FLAG)
    assert first is not None

    with pytest.raises(RuntimeError, match="publish failed"), first:
        first.update({"step": "done"})
        raise RuntimeError("publish failed")

    assert stored(table) == {"pk": "THING#1", "sk": "THING", "value": 1, "step": "done",
                             FLAG: False}
    retry = claim(table, KEY, create={"value": 2}, flag=FLAG)
    assert retry is not None and retry.resumed
    assert (retry.item["value"], retry.item["step"]) == (1, "done")
    assert retry.item["leaseOwner"] == retry.lease.owner != first.lease.owner


def test_a_dead_owner_blocks_retries_until_its_lease_expires(
        table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = claim(table, KEY, create={"value": 1}, flag=FLAG)  # never leaves its block
    assert dead is not None

    with pytest.raises(DuplicateInProgress):
        claim(table, KEY, create={"value": 2}, flag=FLAG)
    later_than_any_lease(monkeypatch)
    retry = claim(table, KEY, create={"value": 2}, flag=FLAG)

    assert retry is not None and retry.resumed and retry.item["value"] == 1


def test_an_owner_whose_lease_was_taken_over_cannot_write_or_mark_published(
        table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = claim(table, KEY, create={"value": 1}, flag=FLAG)
    assert slow is not None
    later_than_any_lease(monkeypatch)
    successor = claim(table, KEY, create={"value": 1}, flag=FLAG)
    assert successor is not None

    with pytest.raises(LeaseLost, match="another invocation took over"):
        slow.update({"step": "late"})
    with pytest.raises(LeaseLost, match="before published was set"), slow:
        pass
    assert stored(table)[FLAG] is False
    assert stored(table)["leaseOwner"] == successor.lease.owner
    assert "step" not in stored(table)


def test_a_change_happens_only_when_its_condition_holds(table: Table) -> None:
    table.put_new({"pk": KEY[0], "sk": KEY[1], "status": "NEW"})
    new = Condition("attribute_exists(pk) AND #status = :new", {"new": "NEW"})

    held = claim(table, KEY, change={"status": "DONE"}, when=new, flag=FLAG)
    assert held is not None
    with held:
        pass

    assert stored(table)["status"] == "DONE" and stored(table)[FLAG] is True
    assert claim(table, KEY, change={"status": "AGAIN"}, when=new, flag=FLAG) is None
    assert stored(table)["status"] == "DONE"


def test_refuse_sees_the_item_when_neither_the_change_nor_a_resume_applies(
        table: Table) -> None:
    new = Condition("attribute_exists(pk) AND #status = :new", {"new": "NEW"})
    seen: list[dict[str, Any] | None] = []

    def refuse(item: dict[str, Any] | None) -> None:
        seen.append(item)
        if item is None:
            raise Refused("no such thing")

    with pytest.raises(Refused):
        claim(table, KEY, change={"status": "DONE"}, when=new, flag=FLAG, refuse=refuse)
    assert seen == [None]
    assert table.get(*KEY) is None


def test_resume_if_narrows_which_unfinished_change_a_retry_may_finish(table: Table) -> None:
    table.put_new({"pk": KEY[0], "sk": KEY[1], "status": "NEW"})
    new = Condition("attribute_exists(pk) AND #status = :new", {"new": "NEW"})
    first = claim(table, KEY, change={"status": "DONE", "by": "a"}, when=new, flag=FLAG)
    assert first is not None
    with pytest.raises(RuntimeError), first:
        raise RuntimeError("publish failed")

    def by(who: str) -> Condition:
        return Condition("#by = :by", {"by": who})

    def refuse(item: dict[str, Any] | None) -> None:
        if item is not None and item["by"] != "b":
            raise Refused(f"done by {item['by']}")

    with pytest.raises(Refused, match="done by a"):
        claim(table, KEY, change={"status": "DONE", "by": "b"}, when=new, flag=FLAG,
              resume_if=by("b"), refuse=refuse)
    retry = claim(table, KEY, change={"status": "DONE", "by": "a"}, when=new, flag=FLAG,
                  resume_if=by("a"))
    assert retry is not None and retry.resumed


def test_the_lease_lasts_the_invocation_remaining_time_plus_a_margin(
        table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    monkeypatch.setattr(idempotency, "now_ms", lambda: 1_000_000)

    held = claim(table, KEY, create={}, flag=FLAG, context=Context())

    assert held is not None
    assert stored(table)["leaseUntil"] == 1_000_000 + 30_000 + idempotency.LEASE_MARGIN_MS


@pytest.mark.parametrize("arguments", [
    {"create": {}, "change": {}, "when": Condition("attribute_exists(pk)")},
    {"change": {"status": "DONE"}},
    {"create": {}, "when": Condition("attribute_exists(pk)")},
    {},
])
def test_a_claim_takes_create_or_change_with_when(table: Table,
                                                 arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="claim takes create=, or change= with when="):
        claim(table, KEY, flag=FLAG, **arguments)
    assert table.get(*KEY) is None
