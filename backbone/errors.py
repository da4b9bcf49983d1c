"""Typed errors of the backbone library. Each one reads as one clear line.

>>> str(ConfigurationError("TABLE_NAME", "is not set"))
'environment variable TABLE_NAME is not set'
"""

from __future__ import annotations

from dataclasses import dataclass


class BackboneServiceError(Exception):
    """Base of every error raised by the backbone library."""


class ConfigurationError(BackboneServiceError):
    """A required environment variable is missing or malformed."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"environment variable {variable} {problem}")


class UnknownEventType(BackboneServiceError):
    """A detail-type that is not in the event catalog."""

    def __init__(self, detail_type: str) -> None:
        self.detail_type = detail_type
        super().__init__(f"unknown detail-type {detail_type!r}: not in the event catalog")


class SchemaViolation(BackboneServiceError):
    """An event detail (or request body) does not match its JSON Schema.

    ``field`` names the offending field as a path (``data.items[0].quantity``).
    """

    def __init__(self, subject: str, field: str, message: str) -> None:
        self.subject = subject
        self.field = field
        self.message = message
        super().__init__(f"{subject}: {field}: {message}")


class MalformedEvent(BackboneServiceError):
    """An invocation payload that is not an EventBridge event envelope."""


@dataclass(frozen=True)
class UnpublishedEvent:
    """One event a :class:`PublishError` could not publish, and why.

    ``position`` is the event's index among the events given to ``publish``, so events
    of one detail-type and correlation id can be told apart.

    >>> str(UnpublishedEvent("Order.Created", "c-1", "InternalFailure", "try again", 2))
    'Order.Created #2 (correlation c-1): InternalFailure: try again'
    """

    detail_type: str
    correlation_id: str
    error_code: str
    error_message: str
    position: int | None = None

    def __str__(self) -> str:
        at = f" #{self.position}" if self.position is not None else ""
        return (f"{self.detail_type}{at} (correlation {self.correlation_id}): "
                f"{self.error_code}: {self.error_message}")


class PublishError(BackboneServiceError):
    """Some events were not published after every retry; names each of them.

    ``published_event_ids`` holds the EventBridge ids of the events that did go out, in
    request order: with the ``position`` of each unpublished event, a caller can tell
    which event got which id, and a partial success from a total failure.
    """

    def __init__(self, unpublished: tuple[UnpublishedEvent, ...],
                 published_event_ids: tuple[str, ...], attempts: int) -> None:
        self.unpublished = unpublished
        self.published_event_ids = published_event_ids
        self.attempts = attempts
        total = len(unpublished) + len(published_event_ids)
        listed = "; ".join(str(u) for u in unpublished[:5])
        more = f"; and {len(unpublished) - 5} more" if len(unpublished) > 5 else ""
        super().__init__(f"{len(unpublished)} of {total} events not published after "
                         f"{attempts} attempt(s): {listed}{more}")
