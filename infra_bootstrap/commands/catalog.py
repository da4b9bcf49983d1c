"""``catalog``: the event catalog as a document, as exports, and as a CI check.

    python -m infra_bootstrap catalog docs            # write docs/events.md
    python -m infra_bootstrap catalog docs --check    # exit 1 if it is out of date
    python -m infra_bootstrap catalog export --format eventcatalog DIR
    python -m infra_bootstrap catalog export --format asyncapi DIR
"""

from __future__ import annotations

from pathlib import Path

import click

from infra_bootstrap import catalog as event_catalog
from infra_bootstrap import catalog_export
from infra_bootstrap.options import stage_options
from infra_bootstrap.topology import Stage


@click.group(short_help="The event catalog: detail-types, sources, subscribers, schemas.")
def catalog() -> None:
    """The event catalog: every detail-type, its source, subscribers, schema and example."""


@catalog.command(short_help="Write docs/events.md, or check that it is up to date.")
@stage_options
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 if the file differs from what would be written.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              default=event_catalog.EVENTS_DOC, show_default="docs/events.md",
              help="The file to write or check.")
def docs(stage: Stage, check: bool, output: Path) -> None:
    """Generate the catalog document from the catalog and the stage's services' apps."""
    text = event_catalog.document(stage)
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            raise event_catalog.StaleDocument(
                f"{output} is out of date: run {event_catalog.GENERATE}")
        click.echo(f"{output} is up to date")
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")


@catalog.command(short_help="Write the catalog for EventCatalog, or as an AsyncAPI document.")
@stage_options
@click.option("--format", "fmt", type=click.Choice(catalog_export.FORMATS), required=True,
              help="eventcatalog: services/, events/, channels/ MDX tree; "
                   "asyncapi: asyncapi.json (AsyncAPI 3.0).")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(stage: Stage, fmt: str, directory: Path) -> None:
    """Write the stage's event catalog into DIRECTORY (created if missing)."""
    model = catalog_export.CatalogModel.of(event_catalog.subscriptions(stage))
    written = catalog_export.export(model, fmt, directory)
    click.echo(f"wrote {len(written)} files to {directory}")


COMMANDS = [catalog]
