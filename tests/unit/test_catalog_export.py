"""`catalog export`: the catalog as an EventCatalog tree and as an AsyncAPI 3.0 document,
and the Mermaid flow of `catalog docs`."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from backbone.catalog import EVENT_TYPES
from infra_bootstrap.catalog import EVENTS_DOC
from infra_bootstrap.cli import main


def _export(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["catalog", "export", *args])
    return result.exit_code, result.stdout, result.stderr


def _frontmatter(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), path
    return yaml.safe_load(text.split("---\n")[1])


def test_eventcatalog_tree_has_both_services_with_sends_and_receives(tmp_path: Path) -> None:
    code, stdout, stderr = _export("--format", "eventcatalog", str(tmp_path))

    assert (code, stderr) == (0, "")
    assert stdout == f"wrote 12 files to {tmp_path}\n"
    order = _frontmatter(tmp_path / "services/order-service/index.mdx")
    delivery = _frontmatter(tmp_path / "services/delivery-service/index.mdx")
    assert order["sends"] == [{"id": "order-created", "version": "1.0.0"},
                              {"id": "order-updated", "version": "1.0.0"}]
    assert order["receives"] == [{"id": "delivery-updated", "version": "1.0.0"}]
    assert delivery["sends"] == [{"id": "delivery-updated", "version": "1.0.0"}]
    assert delivery["receives"] == [{"id": "order-created", "version": "1.0.0"}]
    assert sorted(p.name for p in (tmp_path / "channels").iterdir()) == [
        "global-bus", "local-bus-delivery-service", "local-bus-order-service"]


def test_each_event_has_its_bundled_schema_and_an_example_that_it_validates(
        tmp_path: Path) -> None:
    import fastjsonschema

    _export("--format", "eventcatalog", str(tmp_path))

    assert sorted(p.name for p in (tmp_path / "events").iterdir()) == [
        "delivery-updated", "order-created", "order-updated"]
    for entry in EVENT_TYPES:
        folder = tmp_path / "events" / entry.schema_file.removesuffix(".json")
        meta = _frontmatter(folder / "index.mdx")
        assert (meta["name"], meta["schemaPath"]) == (entry.detail_type, "schema.json")
        schema = json.loads((folder / "schema.json").read_text())
        assert "$ref" not in json.dumps(schema)  # stands alone: no file beside it needed
        fastjsonschema.validate(schema, json.loads(json.dumps(entry.example_detail)))
        assert json.dumps(entry.example_detail, indent=2) in (folder / "index.mdx").read_text()


def test_an_existing_eventcatalog_config_is_kept(tmp_path: Path) -> None:
    (tmp_path / "eventcatalog.config.js").write_text("export default {title: 'mine'};\n")

    code, stdout, _ = _export("--format", "eventcatalog", str(tmp_path))

    assert (code, stdout) == (0, f"wrote 11 files to {tmp_path}\n")
    assert (tmp_path / "eventcatalog.config.js").read_text() == \
        "export default {title: 'mine'};\n"


def test_asyncapi_document_names_channels_operations_and_messages(tmp_path: Path) -> None:
    code, stdout, _ = _export("--format", "asyncapi", str(tmp_path))

    doc = json.loads((tmp_path / "asyncapi.json").read_text())
    assert (code, stdout) == (0, f"wrote 1 files to {tmp_path}\n")
    assert doc["asyncapi"] == "3.0.0"
    assert sorted(doc["components"]["messages"]) == sorted(e.detail_type for e in EVENT_TYPES)
    assert doc["operations"]["delivery-service.on_order_created"] == {
        "action": "receive",
        "channel": {"$ref": "#/channels/local-bus-delivery-service"},
        "summary": "delivery-service's function on_order_created handles Order.Created",
        "messages": [{"$ref": "#/channels/local-bus-delivery-service/messages/Order.Created"}]}
    assert doc["operations"]["delivery-service.send.Delivery.Updated"]["action"] == "send"
    # every $ref of the document resolves inside it
    refs = [v for v in _walk(doc) if isinstance(v, dict) and "$ref" in v]
    for ref in refs:
        node = doc
        for part in ref["$ref"].removeprefix("#/").split("/"):
            node = node[part]


def test_an_unknown_format_is_refused_naming_the_choices(tmp_path: Path) -> None:
    code, _, stderr = _export("--format", "pdf", str(tmp_path))

    assert code == 2
    assert "'pdf' is not one of 'eventcatalog', 'asyncapi'" in stderr
    assert list(tmp_path.iterdir()) == []


def test_events_doc_holds_a_mermaid_flow_of_publishers_and_subscribers() -> None:
    text = EVENTS_DOC.read_text(encoding="utf-8")
    flow = text.split("```mermaid\n")[1].split("```")[0]

    assert flow.startswith("flowchart LR\n")
    assert "service_order_service -->|publishes| event_Order_Created" in flow
    assert ('bus_local_bus_delivery_service -->|"Order.Created → on_order_created"| '
            "service_delivery_service") in flow
    assert "bus_global_bus -->|forwards| bus_local_bus_order_service" in flow


def _walk(node: object) -> list[object]:
    found = [node]
    if isinstance(node, dict):
        for value in node.values():
            found += _walk(value)
    elif isinstance(node, list):
        for value in node:
            found += _walk(value)
    return found
