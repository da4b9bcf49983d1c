"""Commands: plan, create, verify, destroy and subscribe.

Each is a thin shell around ``infra_bootstrap.bootstrap`` / ``infra_bootstrap.subscribe``.

    python -m infra_bootstrap plan --stage prod --json
    python -m infra_bootstrap create --stage prod
    python -m infra_bootstrap subscribe --stage prod --service order-service --dry-run
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from infra_bootstrap import bootstrap
from infra_bootstrap import subscribe as subscribing
from infra_bootstrap.executor import execute
from infra_bootstrap.options import stage_options
from infra_bootstrap.planner import Call, mutating
from infra_bootstrap.sessions import AccountSessions, require_endpoint_for_local
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


def _plan_json(stage: Stage, calls: Sequence[Call]) -> str:
    return json.dumps({"stage": stage.name, "accounts": [
        {"account": account, "calls": [c.to_json() for c in calls if c.account == account]}
        for account in stage.accounts]}, indent=2, default=str)


@click.command()
@stage_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(stage: Stage, as_json: bool) -> None:
    """Show the API calls `create` would make, grouped by account."""
    calls = bootstrap.compute_plan(stage, _sessions(stage))
    if as_json:
        click.echo(_plan_json(stage, calls))
    elif not mutating(calls):
        click.echo(f"stage {stage.name}: up to date, nothing to do")
    else:
        _print_grouped(stage, calls)
        click.echo(f"stage {stage.name}: {len(mutating(calls))} change(s) planned")


@click.command(short_help="Create or repair every resource of the stage (idempotent).")
@stage_options
def create(stage: Stage) -> None:
    """Create or repair every resource of the stage (a second run changes nothing)."""
    sessions = _sessions(stage)
    click.echo(f"stage {stage.name}: applying")
    result = bootstrap.apply(stage, sessions, on_call=_echo_call)
    changes = mutating(result.calls)
    if not changes:
        click.echo(f"stage {stage.name}: nothing changed, everything is as desired")
        return
    accounts = sorted({c.account for c in changes})
    click.echo(f"stage {stage.name}: {len(changes)} change(s) applied in "
               f"{len(accounts)} account(s)")


@click.command(short_help="Check for drift and policy findings; exit 1 if any.")
@stage_options
@click.pass_context
def verify(ctx: click.Context, stage: Stage) -> None:
    """Exit 0 when everything is as desired; else list differences and findings, exit 1."""
    report = bootstrap.verify(stage, _sessions(stage))
    if report.ok:
        click.echo(f"stage {stage.name}: everything is as desired, no policy findings")
        return
    differences = mutating(report.differences)
    if differences:
        click.echo(f"stage {stage.name}: {len(differences)} difference(s) "
                   "(`create` repairs them):")
        for call in differences:
            click.echo(f"  account {call.account}: {call.description}")
    if report.findings:
        click.echo(f"stage {stage.name}: {len(report.findings)} policy finding(s):")
        for finding in report.findings:
            click.echo(f"  {finding}")
    ctx.exit(1)


@click.command()
@stage_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def destroy(stage: Stage, yes: bool) -> None:
    """Remove everything the stage owns, and nothing else."""
    sessions = _sessions(stage)
    calls = bootstrap.destroy_calls(stage, sessions)
    if not calls:
        click.echo(f"stage {stage.name}: nothing to destroy")
        return
    _print_grouped(stage, calls)
    if not yes:
        click.confirm(f"Destroy these resources of stage {stage.name}?", abort=True)
    done = execute(calls, sessions)
    click.echo(f"stage {stage.name}: destroyed ({len(mutating(done))} call(s))")


@click.command(short_help="Wire declared subscriptions to their deployed functions.")
@stage_options
@click.option("--service", "service_names", multiple=True, metavar="NAME",
              help="Only this service (repeatable; default: every service).")
@click.option("--dry-run", is_flag=True, help="Print the calls without making them.")
def subscribe(stage: Stage, service_names: tuple[str, ...], dry_run: bool) -> None:
    """Wire each declared subscription to its function deployed by `chalice deploy`."""
    sessions = _sessions(stage)
    services = [stage.service(n) for n in service_names] or list(stage.services)
    function_arns: dict[str, dict[str, str]] = {}
    declared = {}
    for service in services:
        declared[service.name] = subscribing.declared_subscriptions(service.name)
        function_arns[service.name] = subscribing.deployed_function_arns(stage, service.name)
    result = subscribing.subscribe(stage, sessions, function_arns, subscriptions=declared,
                                   dry_run=dry_run, on_call=_echo_call)
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
