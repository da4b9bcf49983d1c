"""``events tail | trace``: the stage's events, read from every bus's log, in every account.

    python -m infra_bootstrap events tail --stage prod --since 15m --follow
    python -m infra_bootstrap events tail --bus global-bus --pattern '{"source": ["order-service"]}'
    python -m infra_bootstrap events trace <correlation-id | event-id | order-id> --stage prod
    python -m infra_bootstrap events replay --since 2h --service delivery-service --stage prod
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.exceptions
import click

from backbone.trace_file import read_spans
from backbone.tracing import TRACES_FILE
from infra_bootstrap import names
from infra_bootstrap.errors import AwsCallError, UsageError
from infra_bootstrap.operate import logs, plain, queues, spans, trace
from infra_bootstrap.operate.lines import event_line
from infra_bootstrap.operate.records import LoggedEvent
from infra_bootstrap.operate.timespec import iso_ms, parse_time
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
            plain.echo(event_line(logged))


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
@click.option("--spans", "spans_file", default=None, envvar=TRACES_FILE, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Also show the chain's spans (timings) from this OTLP JSON lines file "
                   f"(default: ${TRACES_FILE}, where the services export them locally).")
def trace_command(stage: Stage, key: str, since: str, as_json: bool,
                  spans_file: Path | None) -> None:
    """Every event of the chain KEY names, on every bus, as a tree by causation id, with
    the time of each hop, the gaps between, and its dead letters (handler failures and
    failed forwards); with --spans, the spans of its traces. Exit 1 if no event matches."""
    if not key.strip():
        raise UsageError("KEY is empty: give a correlation id, an event id or an order id")
    start_ms = parse_time(since, _now_ms())
    sessions = open_sessions(stage)
    every = logs.read_all(logs.tails(stage, sessions, logs.bus_logs(stage), start_ms))
    chain = trace.select(every, key)
    letters = trace.select_dead_letters(
        queues.peek_all(sessions, queues.stage_queues(stage, sessions)), key, chain)
    roots = trace.build(chain, letters)
    traced = spans.trace_ids(chain)
    found = ([s for trace_id in traced for s in read_spans(spans_file, trace_id)]
             if spans_file is not None and spans_file.exists() else [])
    if as_json:
        click.echo(json.dumps({"key": key, "events": [r.to_json() for r in roots],
                               "traceIds": traced,
                               "spans": [{"traceId": s.trace_id, "spanId": s.span_id,
                                          "parentSpanId": s.parent_span_id, "name": s.name,
                                          "service": s.service, "kind": s.kind,
                                          "durationMs": s.duration_ms} for s in found]},
                              indent=2))
    elif roots:
        plain.echo(f"trace of {key}: {trace.summary(roots)}")
        for line in trace.render(roots):
            plain.echo(line)
        if spans_file is not None:
            plain.echo(f"spans of trace {', '.join(traced) or '(none carried)'}: "
                       f"{len(found)} in {spans_file}")
            for line in spans.render(found):
                plain.echo(line)
    if not roots:
        raise UsageError(f"no event of stage {stage.name} since {since} has the correlation, "
                         f"event or order id {key}")


trace_command.name = "trace"

REPLAY_POLL_SECONDS = 1.0
REPLAY_DONE = ("COMPLETED", "FAILED", "CANCELLED")


def replay_name(stage: Stage, now_ms: int) -> str:
    """A replay's name: the stage and the time it started (ReplayName: at most 64 of
    ``[.-_A-Za-z0-9]``).

    >>> from infra_bootstrap.topology import load_stage
    >>> replay_name(load_stage("local"), 1767225600123)
    'backbone-local-20260101T000000123'
    """
    stamp = datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y%m%dT%H%M%S")
    return f"{names.SID_PREFIX}{stage.name}-{stamp}{now_ms % 1000:03d}"


def _events_call(account: str, operation: str, resource: str, call: Any, **params: Any) -> Any:
    try:
        return call(**params)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise AwsCallError(account, operation, resource, " ".join(str(exc).split())) from None


@events.command(short_help="Replay the global bus archive's events of a time window.")
@stage_options
@click.option("--since", required=True, metavar="15m|ISO",
              help="Replay events from this long ago or this time.")
@click.option("--until", default=None, metavar="15m|ISO", help="Up to this time (default: now).")
@click.option("--service", default=None, metavar="NAME",
              help="Only to this service (its forwarding rule: Destination.FilterArns).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def replay(ctx: click.Context, stage: Stage, since: str, until: str | None,
           service: str | None, yes: bool) -> None:
    """StartReplay from the global bus archive to the global bus: every rule of the bus,
    or with --service only that service's forwarding rule. Waits for the replay to end,
    printing its progress; exit 1 if it failed or was cancelled."""
    now = _now_ms()
    start_ms = parse_time(since, now)
    end_ms = parse_time(until, now) if until is not None else now
    if start_ms >= end_ms:
        raise UsageError("--since must be before --until (and before now)")
    if service is not None and service not in {s.name for s in stage.services}:
        raise UsageError(f"--service {service}: not a service of stage {stage.name} "
                         f"({', '.join(s.name for s in stage.services)})")
    sessions = open_sessions(stage)
    account = stage.bus_account
    client = sessions.client(account, "events")
    archive = _events_call(account, "events:DescribeArchive", names.GLOBAL_ARCHIVE,
                           client.describe_archive, ArchiveName=names.GLOBAL_ARCHIVE)
    destination: dict[str, Any] = {"Arn": names.global_bus_arn(stage.region, account)}
    if service is not None:
        destination["FilterArns"] = [names.forward_rule_arn(stage.region, account, service)]
    name = replay_name(stage, now)
    window = f"{iso_ms(start_ms)} .. {iso_ms(end_ms)}"
    if not yes:
        click.confirm(f"replay the events of {window} from {names.GLOBAL_ARCHIVE} to "
                      f"{service or 'every rule of ' + names.GLOBAL_BUS} (stage {stage.name})?",
                      abort=True)
    _events_call(account, "events:StartReplay", name, client.start_replay,
                 ReplayName=name, EventSourceArn=archive["ArchiveArn"],
                 EventStartTime=datetime.fromtimestamp(start_ms / 1000, UTC),
                 EventEndTime=datetime.fromtimestamp(end_ms / 1000, UTC),
                 Destination=destination)
    plain.echo(f"replay {name} started: {window} to {service or names.GLOBAL_BUS}")
    last: tuple[Any, ...] = ()
    while True:
        described = _events_call(account, "events:DescribeReplay", name,
                                 client.describe_replay, ReplayName=name)
        state = str(described.get("State"))
        progress = (state, described.get("EventLastReplayedTime"))
        if progress != last:
            last = progress
            replayed_to = described.get("EventLastReplayedTime")
            plain.echo(f"replay {name}: {state}"
                       + (f", replayed up to {replayed_to}" if replayed_to else ""))
        if state in REPLAY_DONE:
            break
        time.sleep(REPLAY_POLL_SECONDS)
    if state != "COMPLETED":
        plain.echo(f"replay {name} {state}: {described.get('StateReason', '')}", err=True)
        ctx.exit(1)

COMMANDS = [events]
