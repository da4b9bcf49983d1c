"""Fixtures of the local data plane tests: one in-process endpoint per module.

Tests import their helpers from ``dataplane_support`` (this directory is on sys.path
under pytest's default import mode, as there are no __init__.py files in tests/).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dataplane_support import Cloud, FakeWorker

from localcloud.config import RouterConfig
from localcloud.endpoint import Endpoint


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    # 1 AWS minute = 12 ms here, so Lambda's 1 and 2 minute retry waits stay fast.
    with Endpoint(port=0, config=RouterConfig(time_scale=1 / 5000)) as running:
        yield running


@pytest.fixture
def cloud(endpoint: Endpoint) -> Cloud:
    return Cloud(endpoint)


@pytest.fixture
def worker() -> FakeWorker:
    """A fake function worker; a test module using it gives its endpoint
    ``invoker=FakeFunctions()`` (see test_targets.py)."""
    return FakeWorker()
