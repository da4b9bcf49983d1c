"""The click entry point: ``python -m infra_bootstrap <command>``.

Commands live beside the code they drive (``commands/``); this module owns the group
and the rule that a BackboneError becomes one line on stderr and its exit code.
"""

from __future__ import annotations

from typing import Any

import click

from infra_bootstrap.commands import catalog, dlq, events, infra, local, services
from infra_bootstrap.errors import BackboneError


class _Group(click.Group):
    """Turns a BackboneError into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BackboneError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             commands=[*infra.COMMANDS, *services.COMMANDS, *local.COMMANDS,
                       *catalog.COMMANDS, *events.COMMANDS,
                       *dlq.COMMANDS])
def main() -> None:
    """Build, check and run the cross-account event backbone.

    \b
    On this machine, no AWS account:
      python -m infra_bootstrap local up --demo
    On AWS, per stage of topology.toml (`--stage NAME`):
      plan -> create -> configure -> `chalice deploy` per service -> subscribe -> verify
    (scripts/deploy STAGE runs that sequence). Every command takes --help.
    """

