"""Every account of a stage is reached as on AWS: the bootstrap's sessions assume each
account's OrganizationAccountAccessRole from the plain local keys (the management
account), for any stage whose accounts the local cloud serves, not only stage local."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from dataplane_support import Cloud

from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import load_stage
from localcloud.endpoint import Endpoint
from tests.topologies import ROLE, stage_toml, write_topology


def test_a_rehearsal_stages_accounts_are_reached_through_their_organization_role(
        endpoint: Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)  # as the user points boto3 at it
    bus, order = Cloud.new_account(), Cloud.new_account()
    path = write_topology(tmp_path, stage_toml(
        "rehearsal", bus_account=bus, credentials=ROLE,
        services=[{"name": "order-service", "account": order}]))
    plain = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local",
                          region_name="eu-west-1")
    sessions = AccountSessions(load_stage("rehearsal", path), plain)

    identities = {account: sessions.client(account, "sts").get_caller_identity()["Arn"]
                  for account in (bus, order)}

    assert identities == {
        account: f"arn:aws:sts::{account}:assumed-role/OrganizationAccountAccessRole/"
                 "infra-bootstrap" for account in (bus, order)}
