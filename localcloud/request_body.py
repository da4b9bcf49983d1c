"""How deep a JSON request body nests, found without parsing it (linear, no recursion).

moto parses AWS JSON-protocol bodies with ``json.loads``, which raises RecursionError
past about a thousand levels: a 500 from the endpoint. The gateway measures the nesting
first and answers 400 ``SerializationException`` (the error AWS JSON protocols give a
body they cannot deserialize) above :data:`MAX_JSON_DEPTH`.

>>> json_depth(b'{"a": [1, {"b": "[[[not counted]]]"}]}')
3
>>> json_depth(b'[' * 5000 + b']' * 5000) > MAX_JSON_DEPTH
True
"""

from __future__ import annotations

import re

__all__ = ["MAX_JSON_DEPTH", "json_depth", "too_deep"]

# No AWS JSON request this endpoint serves nests this deep: DynamoDB, the deepest, allows
# 32 levels of nested attributes (DynamoDB Developer Guide, quotas), inside a request
# wrapper of a few levels; EventBridge's patterns and details are strings.
MAX_JSON_DEPTH = 100
_TOKENS = re.compile(rb'["\\\[\]{}]')


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if ``body`` nests JSON arrays/objects deeper than ``limit``; a bracket count
    (C speed) spares the scan for every ordinary body.

    >>> too_deep(b'{"Entries": [{"Detail": "{}"}]}')
    False
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    return json_depth(body) > limit


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects outside strings (malformed JSON is
    measured as far as it goes; its parser reports the rest)."""
    depth = deepest = 0
    in_string = False
    skip_to = -1
    for token in _TOKENS.finditer(body):
        position = token.start()
        if position < skip_to:
            continue
        char = body[position]
        if in_string:
            if char == 0x5C:  # backslash: the next byte is escaped
                skip_to = position + 2
            elif char == 0x22:
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif char in (0x5D, 0x7D):
            depth = max(0, depth - 1)
    return deepest
