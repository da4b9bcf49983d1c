"""The event catalog for other tools: an EventCatalog tree, or an AsyncAPI 3.0 document.

Pure builders (catalog → files as ``{relative path: text}``) apart from one writer.

EventCatalog (https://www.eventcatalog.dev/docs) reads a folder of MDX files with YAML
frontmatter: ``services/<id>/index.mdx`` (``sends`` / ``receives`` list message ids),
``events/<id>/index.mdx`` (``schemaPath`` names a schema file beside it) and
``channels/<id>/index.mdx``. Frontmatter is written as JSON values, which are YAML.
Event ids are the schema file stems (``order-created``: a URL-safe slug), their
``name`` the detail-type. The catalog keeps one version of each event: ``1.0.0``.

AsyncAPI 3.0 (https://www.asyncapi.com/docs/reference/specification/v3.0.0): one channel
per bus, one message per detail-type (its JSON Schema draft-07 payload, bundled, with
the catalog's example), a ``send`` operation per producer on the global bus and a
``receive`` operation per subscription on the subscriber's local bus.

>>> files = eventcatalog_files(CatalogModel.of([Subscriber("delivery-service",
...     "on_order_created", "Order.Created")]))
>>> sorted(p for p in files if p.startswith("services/"))
['services/delivery-service/index.mdx', 'services/order-service/index.mdx']
>>> files["events/order-created/index.mdx"].splitlines()[1:3]
['id: "order-created"', 'name: "Order.Created"']
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backbone.catalog import EVENT_TYPES, EventType
from backbone.validation import SCHEMA_DIR, load_schema
from infra_bootstrap.catalog_flow import Subscriber
from infra_bootstrap.names import GLOBAL_BUS, local_bus
from infra_bootstrap.schema_refs import bundle

VERSION = "1.0.0"
TITLE = "Cross-account event backbone"
FORMATS = ("eventcatalog", "asyncapi")


@dataclass(frozen=True)
class CatalogModel:
    """What the exports describe: the detail-types, their schemas, the subscriptions."""

    events: tuple[EventType, ...]
    schemas: Mapping[str, Any]          # schema file name -> bundled schema
    subscriptions: tuple[Subscriber, ...]

    @classmethod
    def of(cls, subscriptions: Sequence[Subscriber]) -> CatalogModel:
        """The model of the repository's catalog and schema files."""
        documents = {p.name: load_schema(p.name) for p in sorted(SCHEMA_DIR.glob("*.json"))}
        return cls(EVENT_TYPES, {e.schema_file: bundle(e.schema_file, documents)
                                 for e in EVENT_TYPES}, tuple(subscriptions))

    @property
    def services(self) -> list[str]:
        return sorted({*(e.source for e in self.events),
                       *(s.service for s in self.subscriptions)})

    def received_by(self, service: str) -> list[EventType]:
        wanted = {s.detail_type for s in self.subscriptions if s.service == service}
        return [e for e in self.events if e.detail_type in wanted]

    def sent_by(self, service: str) -> list[EventType]:
        return [e for e in self.events if e.source == service]


def event_id(event: EventType) -> str:
    """The EventCatalog id of a detail-type: its schema file's stem.

    >>> from backbone.catalog import event_type
    >>> event_id(event_type("Delivery.Updated"))
    'delivery-updated'
    """
    return event.schema_file.removesuffix(".json")


def _frontmatter(fields: Mapping[str, Any]) -> str:
    """YAML frontmatter whose values are JSON (valid YAML 1.2 flow style)."""
    lines = ["---"]
    for key, value in fields.items():
        if isinstance(value, list) and value:
            lines.append(f"{key}:")
            lines += [f"  - {json.dumps(item, ensure_ascii=False)}" for item in value]
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join([*lines, "---", ""])


def _refs(events: Sequence[EventType]) -> list[dict[str, str]]:
    return [{"id": event_id(e), "version": VERSION} for e in events]


def eventcatalog_files(model: CatalogModel) -> dict[str, str]:
    """The EventCatalog tree: relative path → file text."""
    files: dict[str, str] = {}
    for service in model.services:
        sends, receives = model.sent_by(service), model.received_by(service)
        summary = (f"Publishes {', '.join(e.detail_type for e in sends) or 'nothing'} to "
                   f"{GLOBAL_BUS}; subscribes to "
                   f"{', '.join(e.detail_type for e in receives) or 'nothing'} on "
                   f"{local_bus(service)}.")
        handlers = [s for s in model.subscriptions if s.service == service]
        body = ["## Overview", "", summary, ""]
        if handlers:
            body += ["| handler | detail-type |", "|---|---|"]
            body += [f"| `{s.handler}` | `{s.detail_type}` |" for s in handlers]
            body.append("")
        files[f"services/{service}/index.mdx"] = _frontmatter({
            "id": service, "name": service, "version": VERSION, "summary": summary,
            "sends": _refs(sends), "receives": _refs(receives)}) + "\n".join(body)
    for event in model.events:
        folder = f"events/{event_id(event)}"
        channels = [{"id": GLOBAL_BUS, "version": VERSION}] + [
            {"id": local_bus(s.service), "version": VERSION}
            for s in model.subscriptions if s.detail_type == event.detail_type]
        files[f"{folder}/index.mdx"] = _frontmatter({
            "id": event_id(event), "name": event.detail_type, "version": VERSION,
            "summary": event.description, "schemaPath": "schema.json",
            "channels": channels,
        }) + "\n".join([
            "## Overview", "", event.description, "",
            f"Published by `{event.source}` with `source` = `{event.source}` and "
            f"`detail-type` = `{event.detail_type}`.", "",
            "## Schema", "", '<Schema file="schema.json" />', "",
            "## Example detail", "", "```json",
            json.dumps(event.example_detail, indent=2), "```", ""])
        files[f"{folder}/schema.json"] = json.dumps(
            model.schemas[event.schema_file], indent=2) + "\n"
    buses = [(GLOBAL_BUS, "The bus account's bus: every service publishes here; one rule "
              "per service forwards what the others publish to its local bus.")]
    buses += [(local_bus(s), f"{s}'s own bus: the events forwarded to it, which its "
               "subscription rules route to its functions.") for s in model.services]
    for bus, summary in buses:
        files[f"channels/{bus}/index.mdx"] = _frontmatter({
            "id": bus, "name": bus, "version": VERSION, "summary": summary,
            "address": bus}) + f"## Overview\n\n{summary}\n"
    return files


def eventcatalog_config() -> str:
    """A minimal ``eventcatalog.config.js`` (written only where none exists)."""
    catalog_id = uuid.uuid5(uuid.NAMESPACE_URL, "backbone:eventcatalog")
    return ("/** @type {import('@eventcatalog/core/bin/eventcatalog.config').Config} */\n"
            "export default {\n"
            f"  title: {json.dumps(TITLE)},\n"
            "  organizationName: \"backbone\",\n"
            "  homepageLink: \"https://www.eventcatalog.dev/\",\n"
            "  landingPage: \"\",\n"
            f"  cId: \"{catalog_id}\",\n"
            "};\n")


def asyncapi_document(model: CatalogModel) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the catalog.

    >>> doc = asyncapi_document(CatalogModel.of([]))
    >>> doc["asyncapi"], sorted(doc["channels"])
    ('3.0.0', ['global-bus'])
    >>> doc["operations"]["order-service.send.Order.Created"]["action"]
    'send'
    """
    messages = {e.detail_type: {
        "name": e.detail_type, "title": e.detail_type, "summary": e.description,
        "contentType": "application/json",
        "payload": {"schemaFormat": "application/schema+json;version=draft-07",
                    "schema": model.schemas[e.schema_file]},
        "examples": [{"name": "example", "payload": dict(e.example_detail)}],
    } for e in model.events}

    def channel_messages(detail_types: Sequence[str]) -> dict[str, Any]:
        return {d: {"$ref": f"#/components/messages/{d}"} for d in detail_types}

    channels: dict[str, Any] = {GLOBAL_BUS: {
        "address": GLOBAL_BUS,
        "description": "The bus account's bus; every service publishes here.",
        "messages": channel_messages([e.detail_type for e in model.events])}}
    operations: dict[str, Any] = {}
    for e in model.events:
        operations[f"{e.source}.send.{e.detail_type}"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{GLOBAL_BUS}"},
            "summary": f"{e.source} publishes {e.detail_type} (PutEvents, source {e.source})",
            "messages": [{"$ref": f"#/channels/{GLOBAL_BUS}/messages/{e.detail_type}"}]}
    for service in sorted({s.service for s in model.subscriptions}):
        mine = [s for s in model.subscriptions if s.service == service]
        bus = local_bus(service)
        channels[bus] = {"address": bus, "description": f"{service}'s local bus.",
                         "messages": channel_messages(sorted({s.detail_type for s in mine}))}
        for s in mine:
            operations[f"{service}.{s.handler}"] = {
                "action": "receive", "channel": {"$ref": f"#/channels/{bus}"},
                "summary": f"{service}'s function {s.handler} handles {s.detail_type}",
                "messages": [{"$ref": f"#/channels/{bus}/messages/{s.detail_type}"}]}
    return {"asyncapi": "3.0.0",
            "info": {"title": TITLE, "version": VERSION,
                     "description": "Events between services in separate AWS accounts, "
                                    "through Amazon EventBridge buses."},
            "defaultContentType": "application/json",
            "channels": channels, "operations": operations,
            "components": {"messages": messages}}


def export(model: CatalogModel, fmt: str, directory: Path) -> list[Path]:
    """Write the export of ``fmt`` into ``directory``; the paths written, in order."""
    if fmt == "eventcatalog":
        files = eventcatalog_files(model)
        if not (directory / "eventcatalog.config.js").exists():
            files["eventcatalog.config.js"] = eventcatalog_config()
    elif fmt == "asyncapi":
        files = {"asyncapi.json": json.dumps(asyncapi_document(model), indent=2) + "\n"}
    else:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    written = []
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
