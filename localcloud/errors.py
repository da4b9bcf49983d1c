"""The local cloud's typed errors; a command line turns each into one line and its
``exit_code``.

>>> str(AwsApiError("ValidationException", "Parameter Event is not valid."))
'ValidationException: Parameter Event is not valid.'
"""

from __future__ import annotations


class LocalCloudError(Exception):
    """Base of every error the local cloud raises on purpose."""

    exit_code = 1


class AwsApiError(LocalCloudError):
    """A request-level AWS error: the whole call fails with this code (for example
    ResourceNotFoundException), answered as AWS's JSON error shape."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
