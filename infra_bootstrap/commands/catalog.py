"""``catalog``: the event catalog as a document, as exports, and as a CI check.

    python -m infra_bootstrap catalog docs            # write docs/events.md
    python -m infra_bootstrap catalog docs --check    # exit 1 if it is out of date
    python -m infra_bootstrap catalog export --format eventcatalog DIR
    python -m infra_bootstrap catalog export --format asyncapi DIR
    python -m infra_bootstrap catalog check --against REV   # exit 1 on a breaking change
    python -m infra_bootstrap catalog check --merge-base    # against the merge base with main
"""

from __future__ import annotations

from pathlib import Path

import click

from infra_bootstrap import catalog as event_catalog
from infra_bootstrap import catalog_check, catalog_export
from infra_bootstrap.errors import UsageError
from infra_bootstrap.options import stage_options
from infra_bootstrap.topology import REPO_ROOT, Stage


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


@catalog.command(short_help="Fail if a subscribed event's schema changed incompatibly.")
@stage_options
@click.option("--against", "revision", metavar="REV",
              help="The git revision to compare the work tree's schemas with.")
@click.option("--merge-base", is_flag=True,
              help="Compare with the merge base of HEAD and origin/main (else main); "
                   "nothing to do when there is none.")
def check(stage: Stage, revision: str | None, merge_base: bool) -> None:
    """Compare every subscribed detail-type's schema with its version at REV.

    Exit 1, one line per finding, on a change that can make an event valid under one
    version and invalid under the other: naming the detail-type, the field and who
    breaks (new producer / old consumer, or old producer / new consumer).
    """
    if (revision is None) == (not merge_base):
        raise UsageError("catalog check: give exactly one of --against REV or --merge-base")
    if merge_base:
        revision = catalog_check.merge_base(REPO_ROOT)
        if revision is None:
            click.echo("catalog check: no merge base with origin/main or main; nothing to "
                       "compare")
            return
    assert revision is not None
    schema_files = {e.detail_type: e.schema_file for e in event_catalog.EVENT_TYPES}
    subscribers = event_catalog.subscribers_by_detail_type(event_catalog.subscriptions(stage))
    found = catalog_check.findings(catalog_check.schemas_at(REPO_ROOT, revision),
                                   catalog_check.schemas_now(REPO_ROOT),
                                   schema_files, subscribers)
    for finding in found:
        click.echo(f"BREAKING {finding}", err=True)
    if found:
        raise catalog_check.BreakingChange(
            f"{len(found)} breaking schema change(s) against {revision}")
    checked = sorted(d for d in schema_files if d in subscribers)
    click.echo(f"catalog check against {revision}: no breaking change "
               f"({', '.join(checked)} compared)")


COMMANDS = [catalog]
