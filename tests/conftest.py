"""Fixtures every test layer shares.

No test talks to AWS (the repository's conftest.py isolates the environment), and
component tests run inside moto's ``mock_aws``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from tests.topologies import three_accounts, write_topology

# One `local up` per test run, shared by every xdist worker (the integration tests' cloud).
pytest_plugins = ["infra_bootstrap.testing", "tests.shared_local_cloud"]


@pytest.fixture
def aws() -> Iterator[None]:
    """Every boto3 call inside the test goes to moto's in-process backends."""
    with mock_aws():
        yield


@pytest.fixture
def topology_file(tmp_path: Path) -> Path:
    """The three-account test stage (``test``) in a file of its own."""
    return write_topology(tmp_path, three_accounts())
