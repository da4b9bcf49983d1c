"""The user's AWS path, rehearsed on the local cloud, next to stage local.

In a fresh copy of the repository (its tracked files, the same .venv), against the run's
`local up`: `scripts/deploy rehearsal --config <other accounts>` (create, configure,
`chalice deploy` of each service in its own account, subscribe, verify), an order through
the REST API URL `services` prints for the deployed API, the order DELIVERED by the
functions running from the zips `chalice deploy` uploaded; a removed subscription rule
makes `verify` exit 1; `destroy` removes the stage.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from infra_bootstrap.sessions import LOCAL_BASE_CREDENTIALS
from tests.shared_local_cloud import SharedCloud, clean_env

REPO = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
BUS, ORDER, DELIVERY = "444444444444", "555555555555", "666666666666"
REHEARSAL = f"""
[stages.rehearsal]
region = "{REGION}"
bus_account = "{BUS}"
credentials = {{ role_name = "OrganizationAccountAccessRole" }}

[[stages.rehearsal.services]]
name = "order-service"
account = "{ORDER}"

[[stages.rehearsal.services]]
name = "delivery-service"
account = "{DELIVERY}"
environment = {{ DELIVERY_DELAY_SECONDS = "1" }}
"""
DEADLINE_S = 180.0  # a loaded 2-core machine; only costs time when something is broken


def fresh_copy(target: Path) -> Path:
    """The repository's tracked files as they are now (symlinks kept), and its .venv."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source, copy = REPO / name, target / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, copy, follow_symlinks=False)
    if not (target / ".venv").exists():
        (target / ".venv").symlink_to(REPO / ".venv")
    return target


@pytest.fixture(scope="module")
def rehearsal(shared_local_cloud: SharedCloud, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[Path, Path, dict[str, str]]:
    root = fresh_copy(tmp_path_factory.mktemp("clone"))
    config = root.parent / "rehearsal.toml"
    config.write_text(REHEARSAL, encoding="utf-8")
    env = {**clean_env(root.parent), "AWS_ENDPOINT_URL": shared_local_cloud.aws,
           "AWS_ACCESS_KEY_ID": LOCAL_BASE_CREDENTIALS["aws_access_key_id"],
           "AWS_SECRET_ACCESS_KEY": LOCAL_BASE_CREDENTIALS["aws_secret_access_key"],
           "AWS_DEFAULT_REGION": REGION}
    return root, config, env


def run(root: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), cwd=root, env=env, capture_output=True, text=True,
                          timeout=1200, check=False)


def admin_client(env: dict[str, str], account: str, service: str) -> Any:
    """A client acting in ``account`` as its Organizations admin role, as a user would."""
    base = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                         region_name=REGION)
    creds = base.client("sts", endpoint_url=env["AWS_ENDPOINT_URL"]).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="rehearsal-test")["Credentials"]
    return base.client(service, endpoint_url=env["AWS_ENDPOINT_URL"],
                       aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])


def test_deploy_order_verify_and_destroy_a_second_stage(
        rehearsal: tuple[Path, Path, dict[str, str]]) -> None:
    root, config, env = rehearsal
    ib = [str(root / ".venv" / "bin" / "python"), "-m", "infra_bootstrap"]
    stage = ["--stage", "rehearsal", "--config", str(config)]

    deployed = run(root, env, "./scripts/deploy", "rehearsal", "--config", str(config))
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "scripts/deploy: stage rehearsal deployed" in deployed.stderr
    assert "stage rehearsal: everything is as desired, no findings" in deployed.stdout

    listed = run(root, env, *ib, "services", *stage)
    assert listed.returncode == 0, listed.stderr
    urls = {line.split("\t")[0]: line.split("\t")[3] for line in listed.stdout.splitlines()}
    api_id = json.loads((root / "order_service" / ".chalice" / "deployed" /
                         "rehearsal.json").read_text())["resources"][-1]["rest_api_id"]
    assert urls == {"order-service": f"{env['AWS_ENDPOINT_URL']}/restapis/{api_id}/api/"
                                     "_user_request_/",
                    "delivery-service": "-"}

    created = requests.post(urls["order-service"] + "orders", json={"customerId": "c-1"},
                            timeout=60)
    assert created.status_code == 201, created.text
    order_id = created.json()["orderId"]
    assert created.json()["status"] == "CREATED"
    deadline = time.monotonic() + DEADLINE_S
    order = created.json()
    while order["status"] != "DELIVERED" and time.monotonic() < deadline:
        time.sleep(0.5)
        answer = requests.get(urls["order-service"] + f"orders/{order_id}", timeout=60)
        assert answer.status_code == 200, answer.text
        order = answer.json()
    assert order["status"] == "DELIVERED", order
    assert order["deliveryId"] and order["customerId"] == "c-1"

    events = admin_client(env, DELIVERY, "events")
    bus = "local-bus-delivery-service"
    events.remove_targets(Rule="sub-on_order_created", EventBusName=bus, Ids=["function"])
    events.delete_rule(Name="sub-on_order_created", EventBusName=bus)
    verified = run(root, env, *ib, "verify", *stage)
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert ("service delivery-service: not subscribed as declared: create subscription rule "
            "local-bus-delivery-service/sub-on_order_created") in verified.stdout

    # The order left data (table items, logged events, the archive): a plain destroy keeps
    # it and exits 1 by design; --discard-data removes the whole stage.
    destroyed = run(root, env, *ib, "destroy", "--yes", "--discard-data", *stage)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert "0 kept or skipped" in destroyed.stdout
