"""moto behaviour that AWS does not have and that loses data: fixed in this process.

**A JSON request body read as a query string.** moto's ``BaseResponse.setup_class``
(moto 5.2.5, ``moto/core/responses.py``) reads the body of every request with
``parse_qsl`` when the URL has no query string, for the query protocol's form bodies;
a JSON protocol's body (``{"QueueUrl": ..., "MessageBody": ...}``) goes through it too.
Its ``&``-separated parts become request parameters, and a query parameter ``Action``
picks the action before ``X-Amz-Target`` does, so data inside a request chose what moto
did with it. Measured through this endpoint before the fix: an SQS message body
``see&Action=PurgeQueue&`` purged the queue (and SendMessage answered without a
MessageId), a log message ``x&Action=DeleteLogGroup&`` deleted its log group, and a rule
Description ``x&Action=DeleteEventBus&Name=default&`` tried to delete the default bus.
On AWS a JSON protocol's action is the ``X-Amz-Target`` header ("This header specifies
the version of the API and the operation that you are requesting", AWS Transfer Family
User Guide, "Making API requests"; DynamoDB Developer Guide, "DynamoDB low-level API")
and the body is data.
:func:`install` makes that ``parse_qsl`` read a body that is a JSON document (its first
character, after whitespace, is ``{`` or ``[``, which no form body of the query protocol
starts with) as one part, never split at ``&``: what moto makes of every JSON body
without an ``&`` (one key nobody reads) is unchanged, and no part of the data becomes a
parameter. Form bodies are read as before.

>>> install()
>>> from moto.core import responses
>>> body = '{"MessageBody": "a&Action=PurgeQueue&"}'
>>> [key for key, _ in responses.parse_qsl(body, keep_blank_values=True)]
['{"MessageBody": "a&Action']
>>> responses.parse_qsl("Action=SendMessage&MessageBody=a", keep_blank_values=True)
[('Action', 'SendMessage'), ('MessageBody', 'a')]
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qsl as _parse_qsl

from moto.core import responses

_JSON_STARTS = ("{", "[")
_installed = False
_install_lock = threading.Lock()


def query_pairs(body: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, Any]]:
    """``urllib.parse.parse_qsl``, except that a JSON document is one part: its ``&`` are
    read as data (escaped, so that the decoded key holds them again)."""
    if isinstance(body, str) and body.lstrip().startswith(_JSON_STARTS):
        return _parse_qsl(body.replace("&", "%26"), *args, **kwargs)
    return _parse_qsl(body, *args, **kwargs)


def install() -> None:
    """Apply the fix to moto in this process (idempotent)."""
    global _installed
    with _install_lock:
        if not _installed:
            setattr(responses, "parse_qsl", query_pairs)  # noqa: B010
            _installed = True
