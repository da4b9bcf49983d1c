"""`catalog docs`: docs/events.md generated from the catalog and the services' apps."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from backbone.catalog import EVENT_TYPES
from backbone.validation import SCHEMA_DIR
from infra_bootstrap.catalog import EVENTS_DOC
from infra_bootstrap.cli import main


def _catalog(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["catalog", "docs", *args])
    return result.exit_code, result.stdout, result.stderr


def test_committed_event_catalog_is_up_to_date() -> None:
    code, stdout, stderr = _catalog("--check")

    assert (code, stderr) == (0, ""), "docs/events.md is stale: run python -m " \
        "infra_bootstrap catalog docs"
    assert stdout == f"{EVENTS_DOC} is up to date\n"
    committed = EVENTS_DOC.read_text(encoding="utf-8")
    assert "`delivery-service.on_order_created`" in committed
    assert "`order-service.on_delivery_updated`" in committed
    for entry in EVENT_TYPES:
        assert f"## {entry.detail_type}" in committed
        assert json.dumps(entry.example_detail, indent=2) in committed
    for schema in SCHEMA_DIR.glob("*.json"):  # shared schemas too (order.json, meta.json)
        assert f"### Schema `{schema.name}`" in committed


def test_docs_writes_the_document_that_check_then_accepts(tmp_path: Path) -> None:
    output = tmp_path / "events.md"

    written = _catalog("--output", str(output))
    checked = _catalog("--output", str(output), "--check")

    assert written == (0, f"wrote {output}\n", "")
    assert checked == (0, f"{output} is up to date\n", "")
    assert output.read_text(encoding="utf-8") == EVENTS_DOC.read_text(encoding="utf-8")


def test_check_of_a_stale_document_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    output = tmp_path / "events.md"
    output.write_text("# Event catalog\n\nedited by hand\n", encoding="utf-8")

    code, stdout, stderr = _catalog("--output", str(output), "--check")

    assert (code, stdout) == (1, "")
    assert stderr == (f"error: {output} is out of date: run python -m infra_bootstrap "
                      "catalog docs\n")
    assert output.read_text(encoding="utf-8") == "# Event catalog\n\nedited by hand\n"


def test_check_of_a_missing_document_fails(tmp_path: Path) -> None:
    code, _, stderr = _catalog("--output", str(tmp_path / "none.md"), "--check")

    assert code == 1
    assert "is out of date" in stderr
