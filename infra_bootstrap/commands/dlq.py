"""``dlq list | show | redrive``: the stage's dead letters, per account, and their redrive.

    python -m infra_bootstrap dlq list --stage prod --json
    python -m infra_bootstrap dlq show global-bus-forward-dlq --stage prod
    python -m infra_bootstrap dlq redrive --stage prod --dry-run
    python -m infra_bootstrap dlq redrive order-service-handler-dlq --stage prod --yes
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from infra_bootstrap.commands.events import open_sessions
from infra_bootstrap.errors import UsageError
from infra_bootstrap.operate import plain, queues
from infra_bootstrap.operate.deadletters import group_by_error
from infra_bootstrap.operate.redrive import Outcome, redrive_queues
from infra_bootstrap.options import stage_options
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import Stage


def _chosen(stage: Stage, sessions: AccountSessions, name: str | None) -> list[queues.QueueRef]:
    """The stage's queues, or the one ``name`` (QUEUE or ACCOUNT:QUEUE) names."""
    every = queues.stage_queues(stage, sessions)
    if name is None:
        return every
    account, _, queue = name.rpartition(":")
    chosen = [q for q in every if q.name == queue and account in ("", q.account)]
    if not chosen:
        raise UsageError(f"QUEUE {name}: not a dead-letter queue of stage {stage.name} "
                         f"({', '.join(sorted({q.name for q in every}))})")
    return chosen


@click.group(short_help="Dead-letter queues: list, show, redrive.")
def dlq() -> None:
    """The stage's dead-letter queues and on-failure destinations, in every account."""


@dlq.command("list", short_help="Every dead-letter queue of the stage, with counts.")
@stage_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
def list_queues(stage: Stage, as_json: bool) -> None:
    """Every dead-letter queue and on-failure destination of the stage, per account, with
    its message counts (visible, in flight, delayed; SQS's approximate counts)."""
    sessions = open_sessions(stage)
    rows = []
    for queue in queues.stage_queues(stage, sessions):
        url = queues.queue_url(sessions, queue)
        counted = (queues.counts(sessions, queue, url) if url is not None
                   else {"messages": 0, "inFlight": 0, "delayed": 0})
        rows.append({"account": queue.account, "queue": queue.name, "holds": queue.holds,
                     "exists": url is not None, **counted})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    plain.echo(f"{'account':<13} {'queue':<40} {'messages':>8} {'in flight':>9}  holds")
    for row in rows:
        missing = "" if row["exists"] else "  (does not exist: run create)"
        plain.echo(f"{row['account']:<13} {row['queue']:<40} {row['messages']:>8} "
                   f"{row['inFlight']:>9}  {row['holds']}{missing}")


@dlq.command(short_help="The dead letters of a queue, grouped by error.")
@stage_options
@click.argument("queue", metavar="QUEUE")
@click.option("--json", "as_json", is_flag=True, help="Print the dead letters as JSON.")
def show(stage: Stage, queue: str, as_json: bool) -> None:
    """The dead letters of QUEUE (a name, or ACCOUNT:NAME) grouped by error, each with its
    event id, detail-type and correlation id. Reading consumes nothing."""
    sessions = open_sessions(stage)
    letters = queues.peek_all(sessions, _chosen(stage, sessions, queue))
    if as_json:
        click.echo(json.dumps([letter.to_json() for letter in letters], indent=2))
        return
    if not letters:
        plain.echo(f"{queue}: no dead letters")
        return
    for (error, message), group in group_by_error(letters).items():
        plain.echo(f"{len(group)} x {error}" + (f": {message}" if message else ""))
        for letter in group:
            where = letter.destination.arn if letter.destination else "?"
            plain.echo(f"  {letter.detail_type} id={letter.event_id or '?'} "
                       f"correlation={letter.correlation_id or '?'} -> {where}")


@dlq.command(short_help="Send dead letters back to where they failed.")
@stage_options
@click.argument("queue", metavar="[QUEUE]", required=False)
@click.option("--dry-run", is_flag=True, help="Only say what would be sent where.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def redrive(ctx: click.Context, stage: Stage, queue: str | None, dry_run: bool,
            yes: bool) -> None:
    """Send each dead letter of QUEUE (default: every queue of the stage) back to where it
    failed: a failed bus forward to that bus, a failed Lambda invocation to that function
    (asynchronous invoke with the original event). A message is deleted only once its
    redrive was accepted; one that fails stays and is reported (exit 1)."""
    sessions = open_sessions(stage)
    chosen = _chosen(stage, sessions, queue)
    if not dry_run and not yes:
        click.confirm(f"redrive every dead letter of {', '.join(q.name for q in chosen)} "
                      f"(stage {stage.name})?", abort=True)

    def report(outcome: Outcome) -> None:
        plain.echo(outcome.line(dry_run), err=not dry_run and not outcome.done)

    outcomes: Sequence[Outcome] = redrive_queues(stage, sessions, chosen, dry_run=dry_run,
                                                 report=report)
    done = sum(o.done for o in outcomes)
    if dry_run:
        plain.echo(f"stage {stage.name}: {len(outcomes)} dead letter(s) would be redriven")
        return
    plain.echo(f"stage {stage.name}: {done} redriven, {len(outcomes) - done} kept")
    if done < len(outcomes):
        ctx.exit(1)


COMMANDS = [dlq]
