"""What every test and every docstring example of the repository runs in.

Nothing talks to AWS: credentials are dummies and any endpoint override or profile is
removed. Docstring examples (doctests) run as a service runs in Lambda, with moto
standing in for AWS: the environment ``infra_bootstrap configure`` gives a service, its
table and the global bus exist, so an example can show a real call and its real answer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import boto3
import pytest
from _pytest.doctest import DoctestItem
from moto import mock_aws

from backbone import aws, observability, settings
from tests.tables import create_table

REGION = "eu-west-1"
EXAMPLE_SERVICE = "order-service"
EXAMPLE_TABLE = "order-service-state"


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


@pytest.fixture(scope="session")
def _setup_session() -> boto3.Session:
    """One session for the harness's own calls: it loads each service model once."""
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                         region_name=REGION)


@pytest.fixture(autouse=True)
def _examples_run_as_a_service(request: pytest.FixtureRequest, _isolated_aws_env: None,
                               _setup_session: boto3.Session) -> Iterator[None]:
    if not isinstance(request.node, DoctestItem):
        yield
        return
    # Whatever an example sets in the environment is undone after it.
    with mock.patch.dict(os.environ), mock_aws():
        if request.node.name.startswith("backbone."):  # the library a service runs
            create_table(_setup_session.client("dynamodb"), EXAMPLE_TABLE)
            bus = _setup_session.client("events").create_event_bus(Name="global-bus")
            os.environ.update({settings.SERVICE_NAME: EXAMPLE_SERVICE,
                               settings.TABLE_NAME: EXAMPLE_TABLE,
                               settings.GLOBAL_BUS_ARN: bus["EventBusArn"]})
        aws.reset_clients()
        observability.reset()
        yield
        aws.reset_clients()
        observability.reset()


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """conftest.py files hold fixtures, no examples: pytest loads them as conftests, and
    collecting each again as a doctest module would import a second ``conftest``."""
    return True if collection_path.name == "conftest.py" else None
