"""Fixtures every test layer shares.

No test talks to AWS: credentials are dummies, any endpoint override is removed,
and component tests run inside moto's ``mock_aws``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from tests.topologies import three_accounts, write_topology

REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def _isolated_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                 "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")


@pytest.fixture
def aws() -> Iterator[None]:
    """Every boto3 call inside the test goes to moto's in-process backends."""
    with mock_aws():
        yield


@pytest.fixture
def topology_file(tmp_path: Path) -> Path:
    """The three-account test stage (``test``) in a file of its own."""
    return write_topology(tmp_path, three_accounts())
