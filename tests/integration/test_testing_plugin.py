"""The pytest plugin ``infra_bootstrap.testing`` as a user meets it: a test file outside
the project, run with ``pytest -p infra_bootstrap.testing``, places its own order and
waits for that order's Order.Updated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra_bootstrap import testing
from infra_bootstrap.cloud_handle import LocalCloud
from tests.shared_local_cloud import REPO_ROOT, clean_env

USER_TEST = '''
import json
import urllib.request

import pytest

from infra_bootstrap.cloud_handle import EventNotSeen


def post_order(api_url):
    request = urllib.request.Request(api_url + "/orders", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def test_my_order_is_updated(local_cloud):
    order = post_order(local_cloud.api_url)
    updated = local_cloud.wait_for_event(
        {"detail-type": ["Order.Updated"], "detail": {"data": {"orderId": [order["orderId"]]}}},
        timeout=90)
    assert updated["detail"]["data"]["status"] == "DELIVERED"
    correlation = updated["detail"]["meta"]["correlationId"]
    assert [e["detail-type"] for e in local_cloud.timeline(correlation)] == [
        "Order.Created", "Delivery.Updated", "Order.Updated"]
    assert local_cloud.accounts["order-service"] == "222222222222"
    tables = local_cloud.client("dynamodb", "order-service").list_tables()["TableNames"]
    assert tables == ["order-service-state"]


def test_a_timeout_names_what_did_arrive(local_cloud):
    order = post_order(local_cloud.api_url)
    created = local_cloud.wait_for_event(
        {"detail-type": ["Order.Created"], "detail": {"data": {"orderId": [order["orderId"]]}}},
        timeout=60)
    with pytest.raises(EventNotSeen) as raised:
        local_cloud.wait_for_event({"detail-type": ["Order.Cancelled"]}, timeout=1)
    message = str(raised.value)
    assert message.startswith('no event matching {"detail-type": ["Order.Cancelled"]} '
                              "on global-bus within 1 s;")
    assert f"Order.Created from order-service (id {created['id']}," in message
'''


@pytest.mark.integration
def test_a_test_file_outside_the_project_uses_the_plugin(
        tmp_path: Path, pytestconfig: pytest.Config, local_cloud: LocalCloud) -> None:
    (tmp_path / "test_my_flow.py").write_text(USER_TEST)
    env = clean_env(tmp_path)
    env.update({"PYTHONPATH": str(REPO_ROOT),
                testing.ATTACH_ENV: str(testing.state_file(pytestconfig))})

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "infra_bootstrap.testing", "-p",
         "no:cacheprovider", "-q", "test_my_flow.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert local_cloud.alive(), "the user's run must not stop a cloud it attached to"
