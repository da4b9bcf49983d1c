"""The bootstrap's core as plain functions: plan, apply, verify, destroy.

The CLI (``commands/infra.py``) and ``local up`` both call these in-process.

>>> from infra_bootstrap.topology import load_stage
>>> stage = load_stage("local")
>>> apply(stage, AccountSessions(stage)).changed                  # creates every resource
True
>>> verify(stage, AccountSessions(stage)).ok                      # as desired, no findings
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from infra_bootstrap import adoption, ownership
from infra_bootstrap import resources as r
from infra_bootstrap.declared import SubscriptionLike, declared_by_service
from infra_bootstrap.desired import desired_resources
from infra_bootstrap.errors import ConflictError
from infra_bootstrap.executor import execute
from infra_bootstrap.findings import (
    Finding,
    forwarding_findings,
    ownership_findings,
    policy_findings,
)
from infra_bootstrap.planner import Call, Plan, mutating, plan
from infra_bootstrap.reader import read_actual, refresh
from infra_bootstrap.resources import Resource
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.teardown import DELETE, KEEP, Step, decide, live_remaining, teardown
from infra_bootstrap.topology import FORWARD_ALL, FORWARD_SUBSCRIBED, Stage


@dataclass(frozen=True)
class ApplyResult:
    """What ``apply`` ran."""

    calls: list[Call] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(mutating(self.calls))


@dataclass(frozen=True)
class VerifyReport:
    """Differences (the calls `create` would make) and findings."""

    differences: list[Call]
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not mutating(self.differences) and not self.findings


def stage_desired(stage: Stage,
                  declared: dict[str, tuple[SubscriptionLike, ...]] | None = None
                  ) -> list[Resource]:
    """The desired resources of ``stage``; with ``forwarding = "subscribed"`` the
    forwarding rules follow the services' declared subscriptions (``declared``, read from
    their code when not given)."""
    if stage.forwarding != FORWARD_SUBSCRIBED:
        return desired_resources(stage)
    if declared is None:
        declared = declared_by_service(stage)
    return desired_resources(stage, {service: [s.event_pattern for s in subs]
                                     for service, subs in declared.items()})


def compute_plan(stage: Stage, sessions: AccountSessions, *,
                 adopt: Sequence[str] = ()) -> Plan:
    """What `create` would do now; ``adopt``: ``[ACCOUNT:]KIND/NAME`` of conflicts to take
    over (AdoptError, exit 2, if one is not a conflict the stage can take over)."""
    desired = stage_desired(stage)
    actual = read_actual(stage, sessions, desired)
    keys = adoption.resolve(adopt, desired, actual, stage=stage.name, kinds=r.INFRA_KINDS)
    return plan(desired, actual, stage=stage.name, adopt=keys)


def apply_plan(computed: Plan, stage: Stage, sessions: AccountSessions, *,
               on_call: Callable[[Call], None] | None = None) -> ApplyResult:
    """Run a plan; refuse, before any call, while it has conflicts."""
    if computed.conflicts:
        raise ConflictError(stage.name, [str(c) for c in computed.conflicts])
    return ApplyResult(execute(computed.calls, sessions, on_call=on_call))


def apply(stage: Stage, sessions: AccountSessions, *, adopt: Sequence[str] = (),
          on_call: Callable[[Call], None] | None = None) -> ApplyResult:
    """Create or repair every resource of the stage; no mutating call when up to date.

    Raises ConflictError, before changing anything, when a resource the stage would
    create exists under its name but is not the stage's (and is not in ``adopt``).
    """
    return apply_plan(compute_plan(stage, sessions, adopt=adopt), stage, sessions,
                      on_call=on_call)


def verify(stage: Stage, sessions: AccountSessions) -> VerifyReport:
    """Drift against the desired state; conflicts, foreign additions, policy findings,
    and subscriptions whose events would not be forwarded."""
    declared = declared_by_service(stage)
    desired = stage_desired(stage, declared)
    actual = read_actual(stage, sessions, desired)
    computed = plan(desired, actual, stage=stage.name)
    findings = ownership_findings(actual, [c.resource for c in computed.conflicts], stage.name)
    findings += policy_findings(actual, stage.name)
    return VerifyReport(computed.calls, findings + forwarding_findings(stage, actual, declared))


# --- destroy ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DestroyPlan:
    """What `destroy` would do to each resource the stage owns, and the same-named
    resources it leaves alone because they are not the stage's."""

    steps: list[Step]
    left_alone: list[Resource]

    @property
    def calls(self) -> list[Call]:
        return [c for s in self.steps for c in s.calls]

    @property
    def kept(self) -> list[Step]:
        return [s for s in self.steps if s.action != DELETE]


@dataclass(frozen=True)
class Outcome:
    """What happened to one resource: ``deleted``, ``stripped``, ``kept`` or ``skipped``."""

    resource: Resource
    result: str
    reason: str = ""


def destroy_plan(stage: Stage, sessions: AccountSessions, *,
                 discard_data: bool = False) -> DestroyPlan:
    """Decide, for every resource the stage owns, to delete, strip or keep it."""
    # Every name the stage may use: a forwarding rule of each service, whatever the mode
    # (what the stage owns beyond that is found by its marker).
    desired = desired_resources(dataclasses.replace(stage, forwarding=FORWARD_ALL))
    wanted = {d.key for d in desired}
    actual = read_actual(stage, sessions, desired, kinds=r.DESTROY_KINDS, destroying=True)
    owned = [a for a in actual if ownership.owned(a, stage.name)]
    left_alone = [a for a in actual if a.key in wanted and not ownership.owned(a, stage.name)]
    return DestroyPlan(teardown(owned, stage.name, discard_data=discard_data), left_alone)


def destroy(stage: Stage, sessions: AccountSessions, planned: DestroyPlan, *,
            discard_data: bool = False,
            on_call: Callable[[Call], None] | None = None) -> list[Outcome]:
    """Carry out ``planned``, re-reading each resource right before its calls.

    A resource that is gone or no longer carries the stage's marker is skipped; one that
    now holds data or carries someone else's additions is kept (or stripped), whatever
    the plan said: the decision is made again on what the resource is now.
    """
    outcomes = []
    for step in planned.steps:
        if step.action == KEEP:
            outcomes.append(Outcome(step.resource, "kept", step.reason))
            continue
        fresh = refresh(stage, sessions, step.resource)
        if fresh is None:
            outcomes.append(Outcome(step.resource, "skipped", "gone before its turn"))
            continue
        if not ownership.owned(fresh, stage.name):
            outcomes.append(Outcome(fresh, "skipped",
                                    f"no longer carries the marker of stage {stage.name}"))
            continue
        remaining = live_remaining(fresh) if fresh.kind == r.EVENT_BUS else []
        now = decide(fresh, stage.name, discard_data=discard_data, remaining=remaining)
        execute(now.calls, sessions, on_call=on_call)
        result = {DELETE: "deleted", KEEP: "kept"}.get(now.action, "stripped")
        outcomes.append(Outcome(fresh, result, now.reason))
    return outcomes
