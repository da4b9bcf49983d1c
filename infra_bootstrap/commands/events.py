"""``events tail | trace``: the stage's events, read from every bus's log, in every account.

    python -m infra_bootstrap events tail --stage prod --since 15m --follow
    python -m infra_bootstrap events tail --bus global-bus --pattern '{"source": ["order-service"]}'
    python -m infra_bootstrap events trace <correlation-id | event-id | order-id> --stage prod
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import click

from infra_bootstrap.errors import UsageError
from infra_bootstrap.operate import logs, queues, trace
from infra_bootstrap.operate.lines import event_line
from infra_bootstrap.operate.records import LoggedEvent
from infra_bootstrap.operate.timespec import parse_time
from infra_bootstrap.options import stage_options
from infra_bootstrap.sessions import AccountSessions, require_endpoint_for_local
from infra_bootstrap.topology import Stage
from localcloud.patterns import EventPattern, InvalidEventPattern, compile_pattern

FOLLOW_POLL_SECONDS = 1.0


def open_sessions(stage: Stage) -> AccountSessions:
    """The stage's sessions; stage ``local`` only against the local cloud."""
    require_endpoint_for_local(stage)
    return AccountSessions(stage)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _pattern(text: str | None) -> EventPattern | None:
    if text is None:
        return None
    try:
        return compile_pattern(text)
    except InvalidEventPattern as exc:
        raise UsageError(f"--pattern: {exc}") from None
    except ValueError as exc:  # not JSON at all
        raise UsageError(f"--pattern: not a JSON event pattern: {exc}") from None


def _echo_events(events: Sequence[LoggedEvent], pattern: EventPattern | None,
                 as_json: bool) -> None:
    for logged in events:
        if pattern is not None and not pattern.matches(logged.event):
            continue
        if as_json:
            click.echo(json.dumps({"bus": logged.bus, "account": logged.account,
                                   "ingestionTime": logged.ingestion_ms,
                                   "event": logged.event}))
        else:
            click.echo(event_line(logged))


@click.group(short_help="Tail, trace and replay the stage's events.")
def events() -> None:
    """The stage's events, from every bus's log group in every account."""


@events.command(short_help="Every bus's events, merged in time order.")
@stage_options
@click.option("--bus", "buses", multiple=True, metavar="NAME",
              help="Only this bus (repeatable; default: every bus of the stage).")
@click.option("--since", default="15m", show_default=True, metavar="15m|ISO",
              help="From this long ago (30s, 15m, 2h, 7d) or this time (ISO 8601).")
@click.option("--follow", is_flag=True, help="Keep printing new events until Ctrl-C.")
@click.option("--pattern", default=None, metavar="JSON",
              help="Only events matching this EventBridge event pattern.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def tail(stage: Stage, buses: tuple[str, ...], since: str, follow: bool,
         pattern: str | None, as_json: bool) -> None:
    """Print the events of every bus of the stage (global and local, each in its account),
    merged in time order, one line each."""
    start_ms = parse_time(since, _now_ms())
    matcher = _pattern(pattern)
    chosen = logs.chosen_buses(stage, buses)
    sessions = open_sessions(stage)
    log_tails = logs.tails(stage, sessions, chosen, start_ms)
    _echo_events(logs.read_all(log_tails), matcher, as_json)
    if not follow:
        return
    try:
        while True:
            time.sleep(FOLLOW_POLL_SECONDS)
            _echo_events(logs.read_all(log_tails), matcher, as_json)
    except KeyboardInterrupt:
        return


@events.command(short_help="One causal chain across every bus, with its failures.")
@stage_options
@click.argument("key", metavar="CORRELATION_ID|EVENT_ID|ORDER_ID")
@click.option("--since", default="1d", show_default=True, metavar="15m|ISO",
              help="Search the logs from this long ago or this time.")
@click.option("--json", "as_json", is_flag=True, help="Print the tree as JSON.")
def trace_command(stage: Stage, key: str, since: str, as_json: bool) -> None:
    """Every event of the chain KEY names, on every bus, as a tree by causation id, with
    the time of each hop, the gaps between, and its dead letters (handler failures and
    failed forwards). Exit 1 if no event matches."""
    if not key.strip():
        raise UsageError("KEY is empty: give a correlation id, an event id or an order id")
    start_ms = parse_time(since, _now_ms())
    sessions = open_sessions(stage)
    every = logs.read_all(logs.tails(stage, sessions, logs.bus_logs(stage), start_ms))
    chain = trace.select(every, key)
    letters = trace.select_dead_letters(
        queues.peek_all(sessions, queues.stage_queues(stage, sessions)), key, chain)
    roots = trace.build(chain, letters)
    if as_json:
        click.echo(json.dumps({"key": key, "events": [r.to_json() for r in roots]}, indent=2))
    elif roots:
        click.echo(f"trace of {key}: {trace.summary(roots)}")
        for line in trace.render(roots):
            click.echo(line)
    if not roots:
        raise UsageError(f"no event of stage {stage.name} since {since} has the correlation, "
                         f"event or order id {key}")


trace_command.name = "trace"

COMMANDS = [events]
