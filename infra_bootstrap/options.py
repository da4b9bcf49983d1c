"""The options every stage command shares: ``--stage``, ``--config`` and ``-v``.

    @click.command()
    @stage_options
    def plan(stage: Stage) -> None: ...
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from infra_bootstrap.topology import LOCAL_STAGE, Stage, load_stage


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
