"""JSON Schema checks (fastjsonschema: pure Python, no compiled wheel in the Lambda zip).

Schemas live in ``backbone/schemas/*.json`` and reference each other by relative
``$ref`` (``order.json``) under a base URI that is only ever resolved from that folder,
never fetched. Validators are compiled at first use and cached.

>>> validate_detail("Order.Created", {"data": {}, "meta": {"correlationId": "c-1"}})
Traceback (most recent call last):
...
backbone.errors.SchemaViolation: Order.Created: data.orderId: must be present
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from backbone.catalog import event_type
from backbone.errors import SchemaViolation

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
BASE_URI = "https://schemas.backbone.invalid/"
_SCHEMA_FILE = re.compile(r"^[a-z0-9-]+\.json$")
_lock = threading.Lock()


def load_schema(file_name: str) -> dict[str, Any]:
    """One schema document of ``backbone/schemas`` by file name (``order.json``)."""
    if not _SCHEMA_FILE.match(file_name):
        raise ValueError(f"not a schema file name: {file_name!r}")
    return json.loads((SCHEMA_DIR / file_name).read_text(encoding="utf-8"))


def _resolve(uri: str) -> dict[str, Any]:
    """fastjsonschema ref handler: our base URI only, read from the package folder."""
    if not uri.startswith(BASE_URI):
        raise ValueError(f"refusing to resolve a schema outside backbone/schemas: {uri}")
    return load_schema(uri[len(BASE_URI):])


def compile_schema(schema: Mapping[str, Any]) -> Callable[[Any], Any]:
    """Compile a schema (which may ``$ref`` our schema files) into a validator function."""
    import fastjsonschema  # at first use: keeps importing an app cheap

    return fastjsonschema.compile(dict(schema), handlers={"https": _resolve})


@functools.cache
def _detail_validator(schema_file: str) -> Callable[[Any], Any]:
    with _lock:
        return compile_schema(load_schema(schema_file))


def validate_detail(detail_type: str, detail: Any) -> None:
    """Raise SchemaViolation if ``detail`` is not a valid detail of ``detail_type``.

    Raises UnknownEventType for a detail-type the catalog does not know.
    """
    validator = _detail_validator(event_type(detail_type).schema_file)
    check(validator, detail, subject=detail_type)


def check(validator: Callable[[Any], Any], instance: Any, *, subject: str) -> None:
    """Run a compiled validator; turn its exception into a SchemaViolation naming the field."""
    import fastjsonschema

    try:
        validator(instance)
    except fastjsonschema.JsonSchemaValueException as exc:
        field, message = describe(exc)
        raise SchemaViolation(subject, field, message) from None


def describe(exc: Any) -> tuple[str, str]:
    """(field path, message) of a fastjsonschema error, naming the exact field.

    fastjsonschema reports ``required`` and ``additionalProperties`` on the parent
    object; we name the missing or unexpected property itself.
    """
    path = list(exc.path[1:])  # path[0] is fastjsonschema's root name "data"
    value, definition = exc.value, exc.definition or {}
    if exc.rule == "required" and isinstance(value, dict):
        missing = [k for k in exc.rule_definition if k not in value]
        if missing:
            return _join([*path, missing[0]]), "must be present"
    if exc.rule == "additionalProperties" and isinstance(value, dict):
        allowed = set(definition.get("properties", {}))
        extra = sorted(k for k in value if k not in allowed)
        if extra:
            return _join([*path, extra[0]]), "is not an allowed property"
    message = exc.message
    prefix = f"{exc.name} "
    if message.startswith(prefix):
        message = message[len(prefix):]
    return _join(path) or "(root)", message


def _join(path: list[Any]) -> str:
    text = ""
    for part in path:
        # fastjsonschema gives array indexes as int or digit strings (our schemas have no
        # digit-only property names)
        is_index = isinstance(part, int) or (isinstance(part, str) and part.isdigit())
        text += f"[{part}]" if is_index else (f".{part}" if text else str(part))
    return text
