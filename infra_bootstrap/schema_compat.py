"""Compatibility of two versions of a JSON Schema: which changes can break whom.

Pure. A change matters when an event can be valid under one version and invalid under
the other:

- **widened** (the new schema accepts an event the old one rejects): a *new producer*
  can send what an *old consumer* rejects, e.g. a new enum value, a bound relaxed, a
  field no longer required;
- **narrowed** (the old schema accepts an event the new one rejects): an *old producer*
  (or an event in flight, archived or replayed) can be rejected by a *new consumer*,
  e.g. a field now required, a pattern added.

A type change is both. Annotations (``title``, ``description``, ``examples``,
``$comment``, ``default``, ...) change nothing a validator does and pass. The comparison
is structural and conservative (as Confluent's JSON Schema compatibility rules are): a
change it cannot prove harmless, such as a new ``pattern``, is reported.

Schemas are compared with their ``$ref`` s inlined (``schema_refs.bundle``).

>>> old = {"properties": {"orderId": {"type": "string", "description": "the id"}}}
>>> new = {"properties": {"orderId": {"type": "integer", "description": "its id"}}}
>>> [str(c) for c in compare(old, new)]
['orderId: type string -> integer (widened)', 'orderId: type string -> integer (narrowed)']
>>> compare(old, {"properties": {"orderId": {"type": "string", "title": "Order id"}}})
[]
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WIDENED = "widened"
NARROWED = "narrowed"
DIRECTIONS = {
    WIDENED: "new producer / old consumer: the new schema accepts events the old one rejects",
    NARROWED: "old producer / new consumer: the old schema accepts events the new one rejects",
}
ANNOTATIONS = frozenset({"title", "description", "examples", "$comment", "default",
                         "deprecated", "readOnly", "writeOnly", "$id", "$schema",
                         "definitions", "$defs", "contentMediaType", "contentEncoding"})
# Keywords whose greater value admits fewer events (and the reverse).
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_HANDLED = frozenset({"type", "enum", "const", "properties", "required",
                      "additionalProperties", "items", "allOf", "anyOf", "oneOf", "not",
                      *_LOWER_BOUNDS, *_UPPER_BOUNDS})
ROOT = "(detail)"


@dataclass(frozen=True)
class Change:
    """One incompatible change at ``field`` (a dotted path; ``[]`` for array items)."""

    field: str
    what: str
    direction: str

    def __str__(self) -> str:
        return f"{self.field}: {self.what} ({self.direction})"


def compare(old: Any, new: Any) -> list[Change]:
    """Every incompatible change from ``old`` to ``new``, in document order."""
    changes: list[Change] = []
    _diff(_as_object(old), _as_object(new), "", changes)
    return list(dict.fromkeys(changes))  # the same change reached twice counts once


def strip_annotations(schema: Any) -> Any:
    """The schema without annotation keywords, at every depth.

    >>> strip_annotations({"title": "T", "properties": {"title": {"type": "string"}}})
    {'properties': {'title': {'type': 'string'}}}
    """
    if isinstance(schema, list):
        return [strip_annotations(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ANNOTATIONS:
            continue
        if key == "properties" and isinstance(value, dict):  # names there are data, not keywords
            out[key] = {name: strip_annotations(s) for name, s in value.items()}
        elif key in ("enum", "const"):
            out[key] = value
        else:
            out[key] = strip_annotations(value)
    return out


def _as_object(schema: Any) -> dict[str, Any]:
    """Boolean schemas as objects: true accepts everything, false nothing."""
    if schema is True or schema is None:
        return {}
    if schema is False:
        return {"not": {}}
    return dict(schema)


def _label(path: str) -> str:
    return path or ROOT


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _diff(old: dict[str, Any], new: dict[str, Any], path: str, out: list[Change],
          flip: bool = False) -> None:
    if strip_annotations(old) == strip_annotations(new):
        return

    def report(what: str, *directions: str) -> None:
        for direction in directions:
            if flip:
                direction = NARROWED if direction == WIDENED else WIDENED
            out.append(Change(_label(path), what, direction))

    _types(old, new, report)
    _enums(old, new, report)
    _bounds(old, new, report)
    _objects(old, new, path, out, flip, report)
    if isinstance(old.get("items"), (dict, bool)) and isinstance(new.get("items"), (dict, bool)):
        _diff(_as_object(old["items"]), _as_object(new["items"]), f"{path}[]", out, flip)
    else:
        _generic("items", old, new, report)
    for key in ("allOf", "anyOf", "oneOf"):
        before, after = old.get(key), new.get(key)
        if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
            for a, b in zip(before, after, strict=True):
                _diff(_as_object(a), _as_object(b), path, out, flip)
        else:
            _generic(key, old, new, report)
    if "not" in old and "not" in new:
        _diff(_as_object(old["not"]), _as_object(new["not"]), path, out, not flip)
    else:
        _generic("not", old, new, report)
    for key in sorted((old.keys() | new.keys()) - _HANDLED - ANNOTATIONS):
        _generic(key, old, new, report)


def _generic(key: str, old: dict[str, Any], new: dict[str, Any],
             report: Callable[..., None]) -> None:
    """A keyword compared as a whole: added narrows, removed widens, changed does both."""
    if key not in old and key not in new:
        return
    if key not in old:
        report(f"{key} added", NARROWED)
    elif key not in new:
        report(f"{key} removed", WIDENED)
    elif strip_annotations(old[key]) != strip_annotations(new[key]):
        report(f"{key} {_dump(old[key])} -> {_dump(new[key])}", WIDENED, NARROWED)


def _types(old: dict[str, Any], new: dict[str, Any], report: Callable[..., None]) -> None:
    def types(schema: dict[str, Any]) -> set[str] | None:
        t = schema.get("type")
        return None if t is None else {t} if isinstance(t, str) else set(t)

    before, after = types(old), types(new)
    if before == after:
        return
    shown = f"type {_show(before)} -> {_show(after)}"
    if before is None:
        report(shown, NARROWED)
    elif after is None:
        report(shown, WIDENED)
    else:
        added, removed = after - before - _numbers(before), before - after - _numbers(after)
        report(shown, *([WIDENED] if added else []), *([NARROWED] if removed else []))


def _numbers(types: set[str]) -> set[str]:
    """``integer`` is already accepted where ``number`` is."""
    return {"integer"} if "number" in types else set()


def _show(types: set[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types))


def _enums(old: dict[str, Any], new: dict[str, Any], report: Callable[..., None]) -> None:
    def values(schema: dict[str, Any]) -> set[str] | None:
        if "const" in schema:
            return {_dump(schema["const"])}
        if "enum" in schema:
            return {_dump(v) for v in schema["enum"]}
        return None

    before, after = values(old), values(new)
    if before == after:
        return
    if before is None:
        report(f"values limited to {', '.join(sorted(after or ()))}", NARROWED)
    elif after is None:
        report(f"values no longer limited to {', '.join(sorted(before))}", WIDENED)
    else:
        if after - before:
            report(f"value {', '.join(sorted(after - before))} added", WIDENED)
        if before - after:
            report(f"value {', '.join(sorted(before - after))} removed", NARROWED)


def _bounds(old: dict[str, Any], new: dict[str, Any], report: Callable[..., None]) -> None:
    for keys, tighter in ((_LOWER_BOUNDS, lambda a, b: b > a),
                          (_UPPER_BOUNDS, lambda a, b: b < a)):
        for key in keys:
            before, after = old.get(key), new.get(key)
            if before == after:
                continue
            if before is None:
                report(f"{key} {after} added", NARROWED)
            elif after is None:
                report(f"{key} {before} removed", WIDENED)
            elif isinstance(before, bool) or isinstance(after, bool):
                report(f"{key} {before} -> {after}", WIDENED, NARROWED)
            else:
                report(f"{key} {before} -> {after}", NARROWED if tighter(before, after)
                       else WIDENED)


def _objects(old: dict[str, Any], new: dict[str, Any], path: str, out: list[Change],
             flip: bool, report: Callable[..., None]) -> None:
    props_old: dict[str, Any] = old.get("properties") or {}
    props_new: dict[str, Any] = new.get("properties") or {}
    extra_old = old.get("additionalProperties", True)
    extra_new = new.get("additionalProperties", True)
    for name in [*props_old, *(n for n in props_new if n not in props_old)]:
        field = _join(path, name)
        if name in props_old and name in props_new:
            _diff(_as_object(props_old[name]), _as_object(props_new[name]), field, out, flip)
        elif name in props_new:
            if extra_old is False:
                _report_at(out, field, "added; the old schema admits no other property",
                           WIDENED, flip)
            else:
                _diff(_as_object(extra_old), _as_object(props_new[name]), field, out, flip)
        elif extra_new is False:
            _report_at(out, field, "removed; the new schema admits no other property",
                       NARROWED, flip)
        else:
            _diff(_as_object(props_old[name]), _as_object(extra_new), field, out, flip)
    req_old, req_new = set(old.get("required") or ()), set(new.get("required") or ())
    for name in sorted(req_new - req_old):
        _report_at(out, _join(path, name), "now required", NARROWED, flip)
    for name in sorted(req_old - req_new):
        _report_at(out, _join(path, name), "no longer required", WIDENED, flip)
    if extra_old is False and extra_new is not False:
        report("additionalProperties false removed", WIDENED)
    elif extra_new is False and extra_old is not False:
        report("additionalProperties false added", NARROWED)
    elif isinstance(extra_old, dict) or isinstance(extra_new, dict):
        _diff(_as_object(extra_old), _as_object(extra_new), _join(path, "*"), out, flip)


def _report_at(out: list[Change], field: str, what: str, direction: str, flip: bool) -> None:
    if flip:
        direction = NARROWED if direction == WIDENED else WIDENED
    out.append(Change(field, what, direction))
