"""``python -m infra_bootstrap local up``: the embedded local cloud."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from infra_bootstrap.errors import UsageError
from localcloud.chaos import ChaosSettings, ChaosSpecError
from localcloud.endpoint import DRAIN_SECONDS
from localcloud.ports import DEFAULT_PORT


@click.group(short_help="Run the whole system on this machine, no AWS account.")
def local() -> None:
    """Run the whole multi-account system on this machine (no AWS account needed)."""


class ChaosSpec(click.ParamType):
    """``--chaos duplicates=P,delay=S,failures=P[,seed=N]``: a bad one is a usage error
    (exit 2) naming the bad key or value."""

    name = "chaos"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> ChaosSettings:
        if isinstance(value, ChaosSettings):
            return value
        try:
            return ChaosSettings.parse(str(value))
        except ChaosSpecError as exc:
            self.fail(str(exc), param, ctx)


@local.command()
@click.option("--demo", is_flag=True,
              help="Once ready, run one order through the system, print its timeline, exit.")
@click.option("--delivery-delay", type=click.FloatRange(min=0), default=None,
              metavar="SECONDS", help="Simulated delivery work (default: topology, 5 s).")
@click.option("--aws-port", type=click.IntRange(0, 65535), default=DEFAULT_PORT,
              show_default=True,
              help="Port of the AWS endpoint on 127.0.0.1 (0: a free one, named by `ready`).")
@click.option("--api-port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port of the order API on 127.0.0.1 (0: a free one, named by `ready`).")
@click.option("--drain-seconds", type=click.FloatRange(min=0), default=DRAIN_SECONDS,
              show_default=True, metavar="SECONDS",
              help="On Ctrl-C/SIGTERM: answer new requests 503 and let accepted work "
                   "finish for up to this long, then say what was left (0: stop at once).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="DIR",
              help="Keep the whole state (accounts, resources, orders, logs, queues, pending "
                   "deliveries) in DIR: saved at stop, loaded at the next start.")
@click.option("--chaos", type=ChaosSpec(), default=None, metavar="SPEC",
              help="At-least-once delivery, as AWS may deliver, to test idempotency: SPEC "
                   "is duplicates=P,delay=S,failures=P[,seed=N], each key optional. Some "
                   "events are delivered twice (same id), each delivery waits 0..S s (out "
                   "of order), some delivery attempts fail and are retried by the target's "
                   "RetryPolicy (never its last allowed attempt: chaos alone dead-letters "
                   "nothing). Counted in /_local/stats.")
@click.option("-v", "--verbose", is_flag=True, help="Print each startup step with its time.")
def up(demo: bool, delivery_delay: float | None, aws_port: int, api_port: int,
       drain_seconds: float, state_dir: Path | None, chaos: ChaosSettings | None,
       verbose: bool) -> None:
    """Start the local cloud; print `ready: ...`, then the global bus's events until Ctrl-C.

    Without --state-dir, the state (accounts, resources, orders, logs, queued events)
    lives in memory and ends with the process.
    """
    from infra_bootstrap.local.up import UpOptions
    from infra_bootstrap.local.up import up as run_up

    if aws_port == api_port != 0:
        raise UsageError(f"--aws-port and --api-port are both {aws_port}: give two ports")
    code = run_up(UpOptions(demo=demo, delivery_delay=delivery_delay, aws_port=aws_port,
                            api_port=api_port, verbose=verbose,
                            drain_seconds=drain_seconds, state_dir=state_dir, chaos=chaos))
    raise SystemExit(code)


COMMANDS = [local]
