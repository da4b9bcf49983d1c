"""JSON request bodies read safely: UTF-8 text, bounded nesting, no lone surrogates.

A body nested 1,000 levels deep made ``json.loads`` raise RecursionError (a 500); a
``"\\ud800"`` escape parses to a string no AWS API can encode (a 500 later, at the
table or the bus). :func:`parse_json` refuses both up front with the field at fault.

>>> parse_json(b'{"customerId": "c-1", "items": []}')
{'customerId': 'c-1', 'items': []}
>>> try:
...     parse_json(b'{"a": ' * 40 + b'1' + b'}' * 40)
... except JsonInputError as error:
...     print(error.field, "/", error.message)
body / nests deeper than 32 levels
>>> try:
...     parse_json(b'{"customerId": "\\\\ud800"}')
... except JsonInputError as error:
...     print(error.field, "/", error.message)
customerId / holds a lone surrogate (\\ud800), which is not valid Unicode text
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "JsonInputError", "parse_json"]

# Deep enough for any request this system takes (DynamoDB, where orders are stored,
# allows 32 levels of nested attributes: DynamoDB Developer Guide, "Service, account,
# and table quotas", Attributes / nested attribute depth).
MAX_DEPTH = 32


class JsonInputError(ValueError):
    """A body that is not acceptable JSON; ``field`` names where (``body`` for the whole)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def parse_json(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a request body; raise JsonInputError naming the field at fault."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonInputError("body", f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} "
                                 f"at offset {exc.start})") from None
    else:
        text = raw
    try:
        value = json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise JsonInputError("body", f"nests deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise JsonInputError("body", f"is not valid JSON: {exc}") from None
    _check(value, max_depth)
    return value


def _not_json(literal: str) -> Any:
    raise ValueError(f"{literal} is not JSON (RFC 8259)")


def _check(value: Any, max_depth: int) -> None:
    """Depth and text checks, iteratively (no recursion to overflow)."""
    pending: list[tuple[Any, int, str]] = [(value, 1, "body")]
    while pending:
        item, depth, field = pending.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise JsonInputError("body", f"nests deeper than {max_depth} levels")
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, inner in pairs:
                if isinstance(key, str):
                    _check_text(key, field)
                    name = key if field == "body" else f"{field}.{key}"
                else:
                    name = f"{field}[{key}]"
                pending.append((inner, depth + 1, name))
        elif isinstance(item, str):
            _check_text(item, field)


def _check_text(text: str, field: str) -> None:
    for char in text:
        if "\ud800" <= char <= "\udfff":
            raise JsonInputError(field, f"holds a lone surrogate (\\u{ord(char):04x}), "
                                 "which is not valid Unicode text")
