"""The click entry point: ``python -m infra_bootstrap <command>``.

Commands live beside the code they drive; this module owns the group, the options
every command shares, and the rule that a BackboneError becomes one line on stderr
and its exit code.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from infra_bootstrap.errors import BackboneError
from infra_bootstrap.topology import LOCAL_STAGE, Stage, load_stage


class _Group(click.Group):
    """Turns a BackboneError into one line; registers the commands on first use.

    Registering lazily lets each command module import :func:`stage_options` from here,
    in any import order, without an import cycle.
    """

    _registered = False

    def _register(self) -> None:
        if self._registered:
            return
        from infra_bootstrap.commands import infra, local, services

        for module in (infra, services, local):
            for command in module.COMMANDS:
                self.add_command(command)
        self._registered = True

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._register()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._register()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BackboneError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


def stage_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --stage, --config and -v; the command receives ``stage: Stage``."""

    @click.option("--stage", "stage_name", default=LOCAL_STAGE, show_default=True,
                  help="Stage of topology.toml to act on.")
    @click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
                  help="Topology file (default: topology.toml of this repository).")
    @click.option("-v", "--verbose", is_flag=True, help="Log every AWS call.")
    @functools.wraps(command)
    def wrapper(stage_name: str, config_path: Path | None, verbose: bool, **kwargs: Any) -> Any:
        if verbose:
            logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
            logging.getLogger("botocore").setLevel(logging.WARNING)
        stage: Stage = load_stage(stage_name, config_path)
        return command(stage=stage, **kwargs)

    return wrapper


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Build, check and run the cross-account event backbone.

    \b
    On this machine, no AWS account:
      python -m infra_bootstrap local up --demo
    On AWS, per stage of topology.toml (`--stage NAME`):
      plan -> create -> configure -> `chalice deploy` per service -> subscribe -> verify
    (scripts/deploy STAGE runs that sequence). Every command takes --help.
    """
