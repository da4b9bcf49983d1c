"""Inline the ``$ref`` s between the schema files, so one detail-type's schema stands alone.

Pure: works on a mapping of file name to parsed schema document (the files of
``backbone/schemas`` in the work tree, or at a git revision), never on the network.
A ``$ref`` is a file name (``order.json``), optionally with a JSON Pointer fragment
(``order.json#/properties/items``), a fragment of the same document (``#/...``), or
either under the schemas' base URI. In draft-07 a ``$ref`` ignores its sibling keywords
(JSON Schema draft-07 Core, section 8.3), so the referenced schema replaces the object.

>>> docs = {"a.json": {"properties": {"x": {"$ref": "b.json#/definitions/id"}}},
...         "b.json": {"$id": "https://schemas.backbone.invalid/b.json",
...                    "definitions": {"id": {"type": "string"}}}}
>>> bundle("a.json", docs)
{'properties': {'x': {'type': 'string'}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BASE_URI = "https://schemas.backbone.invalid/"
# Keywords that only identify a nested document: meaningless once it is inlined.
_IDENTIFYING = ("$id", "$schema")


class SchemaRefError(ValueError):
    """A ``$ref`` that names no document of the set, or a pointer to nothing, or a cycle."""


def bundle(file_name: str, documents: Mapping[str, Any]) -> Any:
    """The schema of ``file_name`` with every ``$ref`` replaced by what it references."""
    if file_name not in documents:
        raise SchemaRefError(f"no schema file {file_name}")
    top = documents[file_name]
    inlined = _inline(top, file_name, documents, ())
    if isinstance(top, dict) and isinstance(inlined, dict):
        for key in _IDENTIFYING:  # the top document keeps its own identity
            if key in top:
                inlined[key] = top[key]
    return inlined


def _inline(node: Any, current: str, documents: Mapping[str, Any],
            seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, current, documents, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        target_file, pointer = _split(ref, current)
        key = f"{target_file}#{pointer}"
        if key in seen:
            raise SchemaRefError(f"recursive $ref {ref} in {current}: cannot inline")
        if target_file not in documents:
            raise SchemaRefError(f"$ref {ref} in {current}: no schema file {target_file}")
        target = _follow(documents[target_file], pointer, ref)
        return _inline(target, target_file, documents, (*seen, key))
    return {k: _inline(v, current, documents, seen)
            for k, v in node.items() if k not in _IDENTIFYING}


def _split(ref: str, current: str) -> tuple[str, str]:
    """(file name, JSON Pointer) of a ``$ref``.

    >>> _split("order.json#/properties/items", "x.json"), _split("#/a", "x.json")
    (('order.json', '/properties/items'), ('x.json', '/a'))
    """
    if ref.startswith(BASE_URI):
        ref = ref[len(BASE_URI):]
    file_part, _, pointer = ref.partition("#")
    return file_part or current, pointer


def _follow(document: Any, pointer: str, ref: str) -> Any:
    """The value a JSON Pointer (RFC 6901) names in ``document``."""
    node = document
    for raw in [p for p in pointer.split("/")[1:]] if pointer else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise SchemaRefError(f"$ref {ref}: {pointer} points to nothing")
    return node
