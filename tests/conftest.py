"""Fixtures every test layer shares.

No test talks to AWS: credentials are dummies, any endpoint override is removed,
and component tests run inside moto's ``mock_aws``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

# One `local up` per test run, shared by every xdist worker (the integration tests' cloud).
pytest_plugins = ["tests.shared_local_cloud"]

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


def write_topology(directory: Path, body: str) -> Path:
    """Write a topology.toml for one test and return its path."""
    path = directory / "topology.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


# The committed local stage under another name: stage `local` refuses to run
# without the local cloud's endpoint, while in-process moto needs none.
THREE_ACCOUNTS = """
[stages.test]
region = "eu-west-1"
bus_account = "111111111111"
log_retention_days = 7
archive_retention_days = 7
credentials = { role_name = "OrganizationAccountAccessRole" }

[[stages.test.services]]
name = "order-service"
account = "222222222222"

[[stages.test.services]]
name = "delivery-service"
account = "333333333333"
environment = { DELIVERY_DELAY_SECONDS = "0" }
"""


@pytest.fixture
def topology_file(tmp_path: Path) -> Path:
    return write_topology(tmp_path, THREE_ACCOUNTS)
