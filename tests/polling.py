"""Waiting on real conditions, never on the clock alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_until(condition: Callable[[], T | None], timeout: float = 5.0,
               what: str = "the condition", interval: float = 0.02) -> T:
    """Poll ``condition`` until it returns a truthy value; fail naming ``what``.

    >>> wait_until(lambda: 42, what="the answer")
    42
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
