"""Commands: plan, create, verify, destroy and subscribe.

Each is a thin shell around ``infra_bootstrap.bootstrap`` / ``infra_bootstrap.subscribe``.

    python -m infra_bootstrap plan --stage prod --json
    python -m infra_bootstrap create --stage prod --adopt event_bus/global-bus
    python -m infra_bootstrap destroy --stage prod --discard-data
    python -m infra_bootstrap subscribe --stage prod --service order-service --dry-run
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from infra_bootstrap import bootstrap, ownership, stage_check
from infra_bootstrap import resources as r
from infra_bootstrap import subscribe as subscribing
from infra_bootstrap.errors import ConflictError
from infra_bootstrap.options import stage_options
from infra_bootstrap.planner import Call, Plan, mutating
from infra_bootstrap.resources import split_rule_name
from infra_bootstrap.sessions import AccountSessions, require_endpoint_for_local
from infra_bootstrap.teardown import Step
from infra_bootstrap.topology import Stage


def _sessions(stage: Stage) -> AccountSessions:
    require_endpoint_for_local(stage)
    return AccountSessions(stage)


def _account_label(stage: Stage, account: str) -> str:
    roles = (["bus"] if account == stage.bus_account else []) + [
        s.name for s in stage.services_in(account)]
    return f"account {account} ({', '.join(roles)})"


def _echo_call(call: Call) -> None:
    click.echo(f"  {call.account}  {call.api_name:<40} {call.description}")


def _print_grouped(stage: Stage, calls: Sequence[Call]) -> None:
    for account in stage.accounts:
        mine = [c for c in calls if c.account == account]
        if not mine:
            continue
        click.echo(f"{_account_label(stage, account)}: {len(mutating(mine))} change(s)")
        for call in mine:
            click.echo(f"  {call.api_name:<40} {call.description}")


def _plan_json(stage: Stage, computed: Plan) -> str:
    return json.dumps({"stage": stage.name, "accounts": [
        {"account": account,
         "calls": [c.to_json() for c in computed.calls if c.account == account],
         "conflicts": [c.to_json() for c in computed.conflicts
                       if c.resource.account == account],
         "kept": [{"kind": k.resource.kind, "name": k.resource.name, "reason": k.reason}
                  for k in computed.kept if k.resource.account == account]}
        for account in stage.accounts]}, indent=2, default=str)


_ADOPT_HELP = ("Take over this conflicting resource, as `plan` names it: KIND/NAME, or "
               "ACCOUNT:KIND/NAME when the name conflicts in several accounts "
               "(repeatable). Prints every change made to it first.")


def _echo_conflicts(computed: Plan, *, err: bool) -> None:
    for conflict in computed.conflicts:
        click.echo(str(conflict), err=err)


def _echo_kept(steps: Sequence[Step], why: str) -> None:
    for step in steps:
        x = step.resource
        click.echo(f"KEEP {x.account} {x.kind} {x.name}: {why}{step.reason}")


@click.command(short_help="Show the API calls `create` would make, and its conflicts.")
@stage_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--adopt", multiple=True, metavar="[ACCOUNT:]KIND/NAME",
              help="Plan as `create --adopt` would (repeatable).")
def plan(stage: Stage, as_json: bool, adopt: tuple[str, ...]) -> None:
    """Show the API calls `create` would make, grouped by account, and its conflicts."""
    computed = bootstrap.compute_plan(stage, _sessions(stage), adopt=adopt)
    if as_json:
        click.echo(_plan_json(stage, computed))
        return
    _echo_conflicts(computed, err=False)
    if not computed.mutating and not computed.conflicts and not computed.kept:
        click.echo(f"stage {stage.name}: up to date, nothing to do")
        return
    _print_grouped(stage, computed.calls)
    _echo_kept(computed.kept, "no longer desired, kept: ")
    summary = f"stage {stage.name}: {len(computed.mutating)} change(s) planned"
    if computed.conflicts:
        summary += (f"; `create` refuses while {len(computed.conflicts)} conflict(s) remain "
                    "(take one over with `create --adopt KIND/NAME`, or remove it)")
    click.echo(summary)


def _echo_adoption(stage: Stage, computed: Plan) -> None:
    """Every change `create --adopt` makes to the resources it takes over, before it."""
    click.echo(f"stage {stage.name}: adopting {len(computed.adopted)} resource(s); "
               "every change made to them:")
    # A rule adopted with its bus is the stage's, not something left on the bus.
    adopted_rules = {(x.account, f"rule {split_rule_name(x.name)[1]}", split_rule_name(x.name)[0])
                     for x in computed.adopted if x.kind == r.RULE}
    for resource in computed.adopted:
        click.echo(f"  account {resource.account}: {resource.label}")
        for call in computed.calls_on(resource):
            if call.mutating:
                click.echo(f"    {call.api_name:<40} {call.description}")
        for what in ownership.foreign_additions(resource, stage.name):
            if (resource.account, what, resource.name) not in adopted_rules:
                click.echo(f"    stays as it is: {what} (not the stage's; `verify` reports it)")


@click.command(short_help="Create or repair every resource of the stage (idempotent).")
@stage_options
@click.option("--adopt", multiple=True, metavar="[ACCOUNT:]KIND/NAME", help=_ADOPT_HELP)
@click.pass_context
def create(ctx: click.Context, stage: Stage, adopt: tuple[str, ...]) -> None:
    """Create or repair every resource of the stage (a second run changes nothing).

    Refuses, before any change, when a resource of the stage's names exists that the
    stage does not own; `--adopt` takes such a resource over explicitly.
    """
    sessions = _sessions(stage)
    computed = bootstrap.compute_plan(stage, sessions, adopt=adopt)
    if computed.conflicts:
        _echo_conflicts(computed, err=True)
        click.echo(f"stage {stage.name}: create refused, nothing changed: take a resource "
                   "over with `create --adopt KIND/NAME`, or remove or rename it", err=True)
        ctx.exit(1)
    if computed.adopted:
        _echo_adoption(stage, computed)
    click.echo(f"stage {stage.name}: applying")
    result = bootstrap.apply_plan(computed, stage, sessions, on_call=_echo_call)
    _echo_kept(computed.kept, "no longer desired, kept: ")
    changes = mutating(result.calls)
    if not changes:
        click.echo(f"stage {stage.name}: nothing changed, everything is as desired")
        return
    accounts = sorted({c.account for c in changes})
    click.echo(f"stage {stage.name}: {len(changes)} change(s) applied in "
               f"{len(accounts)} account(s)")


@click.command(short_help="Check drift, findings and deployed services; exit 1 if any.")
@stage_options
@click.option("--infra-only", is_flag=True,
              help="Only what `create` makes (before the services are deployed): not the "
                   "services' functions and subscriptions.")
@click.pass_context
def verify(ctx: click.Context, stage: Stage, infra_only: bool) -> None:
    """Exit 0 when everything is as desired; else list differences and findings, exit 1.

    Besides what `create` makes, each service's deployed functions and its declared
    subscriptions (rule, target, permission, retry policy, dead-letter queue, invoke
    config) are checked, unless `--infra-only`.
    """
    sessions = _sessions(stage)
    report = bootstrap.verify(stage, sessions)
    if not infra_only:
        report = bootstrap.VerifyReport(report.differences, report.findings
                                        + stage_check.service_findings(stage, sessions))
    if report.ok:
        click.echo(f"stage {stage.name}: everything is as desired, no findings")
        return
    differences = mutating(report.differences)
    if differences:
        click.echo(f"stage {stage.name}: {len(differences)} difference(s) "
                   "(`create` repairs them):")
        for call in differences:
            click.echo(f"  account {call.account}: {call.description}")
    if report.findings:
        click.echo(f"stage {stage.name}: {len(report.findings)} finding(s):")
        for finding in report.findings:
            click.echo(f"  {finding}")
    ctx.exit(1)


_DATA_HINT = " (`destroy --discard-data` deletes it with its data)"


def _keep_reason(step: Step) -> str:
    if step.action == "strip":
        return f"{step.reason}; only the stage's part of it is removed"
    data = step.resource.data
    if data is not None and data.holds and step.reason.startswith("holds"):
        return step.reason + _DATA_HINT
    return step.reason


@click.command(short_help="Remove what the stage owns, nothing else; keep data.")
@stage_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--discard-data", is_flag=True,
              help="Also delete queues, tables, archives and log groups holding data.")
@click.pass_context
def destroy(ctx: click.Context, stage: Stage, yes: bool, discard_data: bool) -> None:
    """Remove what the stage owns and nothing else; keep what holds data.

    Exit 1 when something of the stage was kept (it holds data, or someone else's
    rule, target or statement is on it).
    """
    sessions = _sessions(stage)
    planned = bootstrap.destroy_plan(stage, sessions, discard_data=discard_data)
    for x in planned.left_alone:
        click.echo(f"left alone: account {x.account}: {x.label}: not owned by stage "
                   f"{stage.name}")
    if not planned.steps:
        click.echo(f"stage {stage.name}: nothing to destroy")
        return
    _print_grouped(stage, planned.calls)
    for step in planned.kept:
        x = step.resource
        click.echo(f"KEEP {x.account} {x.kind} {x.name}: {_keep_reason(step)}")
    if planned.calls and not yes:
        click.confirm(f"Destroy these resources of stage {stage.name}?", abort=True)
    outcomes = bootstrap.destroy(stage, sessions, planned, discard_data=discard_data)
    for step, outcome in zip(planned.steps, outcomes, strict=True):
        # What the plan above did not say already: re-checked right before its calls.
        if outcome.result != {"delete": "deleted", "strip": "stripped"}.get(step.action,
                                                                           "kept"):
            click.echo(f"{outcome.result.upper()} account {outcome.resource.account}: "
                       f"{outcome.resource.label}: {outcome.reason}")
    deleted = sum(o.result == "deleted" for o in outcomes)
    click.echo(f"stage {stage.name}: {deleted} resource(s) deleted, "
               f"{len(outcomes) - deleted} kept or skipped")
    if deleted < len(outcomes):
        ctx.exit(1)


@click.command(short_help="Wire declared subscriptions to their deployed functions.")
@stage_options
@click.option("--service", "service_names", multiple=True, metavar="NAME",
              help="Only this service (repeatable; default: every service).")
@click.option("--dry-run", is_flag=True, help="Print the calls without making them.")
@click.option("--adopt", multiple=True, metavar="[ACCOUNT:]KIND/NAME", help=_ADOPT_HELP)
@click.pass_context
def subscribe(ctx: click.Context, stage: Stage, service_names: tuple[str, ...],
              dry_run: bool, adopt: tuple[str, ...]) -> None:
    """Wire each declared subscription to its function deployed by `chalice deploy`."""
    sessions = _sessions(stage)
    services = [stage.service(n) for n in service_names] or list(stage.services)
    function_arns: dict[str, dict[str, str]] = {}
    declared = {}
    for service in services:
        declared[service.name] = subscribing.declared_subscriptions(service.name)
        function_arns[service.name] = subscribing.deployed_function_arns(stage, service.name)
    try:
        result = subscribing.subscribe(stage, sessions, function_arns, subscriptions=declared,
                                       adopt=adopt, dry_run=dry_run, on_call=_echo_call)
    except ConflictError as exc:
        for line in exc.lines:
            click.echo(line, err=True)
        click.echo(f"stage {stage.name}: subscribe refused, nothing changed: take a resource "
                   "over with `subscribe --adopt KIND/NAME`, or remove or rename it", err=True)
        ctx.exit(1)
    changes = mutating(result.calls)
    if dry_run:
        for call in changes:
            _echo_call(call)
        click.echo(f"stage {stage.name}: {len(changes)} change(s) planned (dry run)")
    elif changes:
        click.echo(f"stage {stage.name}: {len(changes)} change(s) applied")
    else:
        click.echo(f"stage {stage.name}: subscriptions up to date, nothing changed")


COMMANDS = [plan, create, verify, destroy, subscribe]
