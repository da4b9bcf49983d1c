"""Diff desired against actual resources into a plan. Pure.

Like Chalice's ``deploy/planner.py``: the plan is data you can print, test and then
hand to the executor. For each desired resource: create it when nothing of that name
exists, update the stage's part of it when the stage owns it (``ownership.py``), and
otherwise report a :class:`Conflict` and plan nothing for it, unless it is being
adopted. Resources the stage owns that are no longer desired go through ``teardown``
(deleted, stripped of the stage's part, or kept when they hold data).

>>> from infra_bootstrap import names
>>> from infra_bootstrap.resources import Resource
>>> bus = Resource("event_bus", "111111111111", "b", {"policy": None}, names.tags("test"))
>>> [c.operation for c in plan([bus], [], stage="test").calls]
['create_event_bus']
>>> plan([bus], [bus], stage="test").calls
[]
>>> str(plan([bus], [Resource("event_bus", "111111111111", "b", {}, {})], stage="test")
...     .conflicts[0])
'CONFLICT 111111111111 event_bus b: exists, not owned by stage test'
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from infra_bootstrap import ownership
from infra_bootstrap import resources as r
from infra_bootstrap.calls import (
    WAIT_PREFIX,
    Call,
    api_name,
    create_calls,
    mutating,
    normalize,
    update_calls,
)
from infra_bootstrap.resources import Resource
from infra_bootstrap.teardown import Step, teardown

__all__ = ["WAIT_PREFIX", "Call", "Conflict", "Plan", "api_name", "mutating", "normalize",
           "plan"]


@dataclass(frozen=True)
class Conflict:
    """A desired resource whose name is taken by one the stage does not own."""

    resource: Resource
    stage: str

    def __str__(self) -> str:
        x = self.resource
        return f"CONFLICT {x.account} {x.kind} {x.name}: exists, not owned by stage {self.stage}"

    def to_json(self) -> dict[str, Any]:
        x = self.resource
        return {"account": x.account, "kind": x.kind, "name": x.name, "adopt": x.ref,
                "message": str(self)}


@dataclass(frozen=True)
class Plan:
    """The calls `create` (or `subscribe`) would make, and what stops or limits it."""

    calls: list[Call] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    # Owned resources no longer desired that stay (they hold data, or carry additions).
    kept: list[Step] = field(default_factory=list)
    # The actual resources taken over (``adopt``) by this plan.
    adopted: list[Resource] = field(default_factory=list)

    @property
    def mutating(self) -> list[Call]:
        return mutating(self.calls)

    def calls_on(self, resource: Resource) -> list[Call]:
        """The calls of the plan that change ``resource``."""
        return [c for c in self.calls
                if c.account == resource.account and c.resource == resource.label]


def plan(desired: Iterable[Resource], actual: Iterable[Resource], *, stage: str,
         kinds: Iterable[str] = r.INFRA_KINDS,
         adopt: Collection[tuple[str, str, str]] = frozenset()) -> Plan:
    """The plan turning ``actual`` into ``desired`` for the resource ``kinds`` managed.

    Creates and updates run in :data:`resources.PHASES` order, then the leftovers in
    the reverse order (targets are removed before their rule, rules before their bus, a
    role after the targets naming it). ``adopt``: keys of conflicting resources to take
    over; they are updated as if the stage owned them (tagged, their markers written).
    """
    managed = set(kinds)
    wanted = {d.key: d for d in desired if d.kind in managed}
    found = {a.key: a for a in actual if a.kind in managed}
    out = Plan()
    for kind in r.PHASES:
        for key in sorted(k for k in wanted if k[0] == kind):
            before = found.get(key)
            if before is None:
                out.calls.extend(create_calls(wanted[key]))
            elif ownership.owned(before, stage):
                out.calls.extend(update_calls(wanted[key], before, stage))
            elif key in adopt:
                out.adopted.append(before)
                out.calls.extend(update_calls(wanted[key], before, stage))
            else:
                out.conflicts.append(Conflict(before, stage))
    leftovers = [a for key, a in found.items()
                 if key not in wanted and ownership.owned(a, stage)]
    for step in teardown(leftovers, stage, discard_data=False):
        out.calls.extend(step.calls)
        if not step.deletes:
            out.kept.append(step)
    return out
