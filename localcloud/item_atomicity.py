"""DynamoDB's single-item atomicity, which moto's models do not give concurrent requests.

On AWS "individual write operations such as UpdateItem are atomic and always operate on
the most recent version of the item, regardless of concurrency" (DynamoDB Developer
Guide, "Best practices for handling concurrent updates in DynamoDB"): a conditional
write checks and writes in one step. moto checks a ConditionExpression, then writes, in
plain Python; the endpoint serves requests on threads, so two callers could both pass
the same condition. :class:`ItemAtomicity` serves DynamoDB's requests one at a time (each
takes a few milliseconds), which makes every check-and-write, and every read, whole.

>>> atomicity = ItemAtomicity()
>>> atomicity.guards("DynamoDB_20120810.PutItem"), atomicity.guards("AWSEvents.PutEvents")
(True, False)
>>> atomicity.serve(lambda: [b"answer"])
[b'answer']
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

# The X-Amz-Target prefix of DynamoDB's JSON 1.0 protocol (every data and control action).
DYNAMODB_TARGET = "DynamoDB_20120810."


class ItemAtomicity:
    """Serves the requests it guards one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @staticmethod
    def guards(target: str) -> bool:
        """Is the request with this ``X-Amz-Target`` a DynamoDB request?"""
        return target.startswith(DYNAMODB_TARGET)

    def serve(self, respond: Callable[[], Iterable[bytes]]) -> list[bytes]:
        """Run ``respond`` (a WSGI call) alone, its response body read before the next."""
        with self._lock:
            return list(respond())
