"""Fixtures of the component tests (in-process moto, several accounts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

# Operations that only read: everything else an ApiCalls records counts as a change.
READ_PREFIXES = ("Describe", "List", "Get", "AssumeRole", "Scan", "FilterLogEvents")


class ApiCalls:
    """Every botocore API call made in the test, as (operation name, params)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, str] = {}

    @property
    def mutating(self) -> list[str]:
        return [op for op, _ in self.calls if not op.startswith(READ_PREFIXES)]


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiCalls]:
    recorder = ApiCalls()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        recorder.calls.append((operation_name, api_params))
        if operation_name in recorder.fail:
            raise ClientError({"Error": {"Code": "AccessDenied",
                                         "Message": recorder.fail[operation_name]}},
                              operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    yield recorder
