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

from collections.abc import Callable
from dataclasses import dataclass, field

from infra_bootstrap import resources as r
from infra_bootstrap.desired import desired_resources
from infra_bootstrap.executor import execute
from infra_bootstrap.findings import Finding, policy_findings
from infra_bootstrap.planner import Call, destroy_plan, mutating, plan
from infra_bootstrap.reader import read_actual
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import Stage


@dataclass(frozen=True)
class ApplyResult:
    """What ``apply`` / ``destroy`` ran."""

    calls: list[Call] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(mutating(self.calls))


@dataclass(frozen=True)
class VerifyReport:
    """Differences (the calls `create` would make) and policy findings."""

    differences: list[Call]
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not mutating(self.differences) and not self.findings


def compute_plan(stage: Stage, sessions: AccountSessions) -> list[Call]:
    """The calls `create` would make now."""
    desired = desired_resources(stage)
    return plan(desired, read_actual(stage, sessions, desired), stage=stage.name)


def apply(stage: Stage, sessions: AccountSessions, *,
          on_call: Callable[[Call], None] | None = None) -> ApplyResult:
    """Create or repair every resource of the stage; no mutating call when up to date."""
    return ApplyResult(execute(compute_plan(stage, sessions), sessions, on_call=on_call))


def verify(stage: Stage, sessions: AccountSessions) -> VerifyReport:
    """Drift against the desired state, plus policy findings on what exists."""
    desired = desired_resources(stage)
    actual = read_actual(stage, sessions, desired)
    return VerifyReport(plan(desired, actual, stage=stage.name), policy_findings(actual))


def destroy_calls(stage: Stage, sessions: AccountSessions) -> list[Call]:
    """The calls removing everything the stage owns (and nothing else)."""
    actual = read_actual(stage, sessions, [], kinds=r.DESTROY_KINDS)
    return destroy_plan(actual, stage=stage.name)


def destroy(stage: Stage, sessions: AccountSessions, *,
            on_call: Callable[[Call], None] | None = None) -> ApplyResult:
    return ApplyResult(execute(destroy_calls(stage, sessions), sessions, on_call=on_call))
