"""Twenty services in 21 accounts with forwarding = "subscribed", on a fresh local cloud.

The acceptance of "forward only what is subscribed": order-service and delivery-service
have their app folders, the 18 others have none (they publish and subscribe from
elsewhere, so they subscribe to nothing here). ``create`` exits 0 and a second run
changes nothing; 100 ``Order.Created`` published by the order service reach the
delivery service's bus 100 times and each of the 18 others 0 times; ``destroy`` removes
it all (``--discard-data``: the event logs and the archive now hold those events).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_up_helpers import REGION, REPO_ROOT
from test_ownership_acceptance import Endpoint

from infra_bootstrap import names
from tests.polling import wait_until
from tests.topologies import ROLE, stage_toml, write_topology

pytestmark = [pytest.mark.integration]

STAGE = "twenty"
BUS_ACCOUNT = "111111111111"
ORDER = {"name": "order-service", "account": "222222222222"}
DELIVERY = {"name": "delivery-service", "account": "333333333333"}
OTHERS = [{"name": f"svc-{i:02d}", "account": f"{500000000000 + i}"} for i in range(18)]
SERVICES = [ORDER, DELIVERY, *OTHERS]
EVENTS = 100
CLI_TIMEOUT = 300.0


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Endpoint]:
    running = Endpoint(tmp_path)
    running.env.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local",
                       AWS_DEFAULT_REGION=REGION)
    try:
        yield running
    finally:
        running.stop()


def _cli(cloud: Endpoint, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra_bootstrap", *args, "--stage", STAGE, "--config",
         str(config)], cwd=REPO_ROOT, env=cloud.env, text=True, capture_output=True,
        timeout=CLI_TIMEOUT, check=False)


def _logged(cloud: Endpoint, service: dict[str, str]) -> int:
    """How many events the service's local bus logged."""
    logs = cloud.client(service["account"], "logs")
    group = names.event_log_group(names.local_bus(service["name"]))
    count, token = 0, None
    while True:
        page: dict[str, Any] = logs.filter_log_events(
            logGroupName=group, **({"nextToken": token} if token else {}))
        count += len(page["events"])
        token = page.get("nextToken")
        if not token:
            return count


def _idle(cloud: Endpoint) -> bool:
    request = urllib.request.Request(f"{cloud.url}/_local/idle?timeout=5",
                                     headers=cloud.control_headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return bool(answer.status == 200)


def test_twenty_services_forward_only_what_is_subscribed(cloud: Endpoint,
                                                         tmp_path: Path) -> None:
    config = write_topology(tmp_path, stage_toml(STAGE, credentials=ROLE,
                                                 forwarding="subscribed", services=SERVICES))

    created = _cli(cloud, config, "create")
    assert created.returncode == 0, created.stdout + created.stderr
    again = _cli(cloud, config, "create")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"stage {STAGE}: nothing changed" in again.stdout

    events = cloud.client(ORDER["account"], "events")
    bus_arn = names.global_bus_arn(REGION, BUS_ACCOUNT)
    for batch in range(EVENTS // 10):
        answer = events.put_events(Entries=[{
            "EventBusName": bus_arn, "Source": "order-service", "DetailType": "Order.Created",
            "Detail": json.dumps({"data": {"orderId": f"o-{batch}-{i}"}})} for i in range(10)])
        assert answer["FailedEntryCount"] == 0, answer

    wait_until(lambda: _logged(cloud, DELIVERY) == EVENTS or None, timeout=120,
               what=f"{EVENTS} events on delivery-service's bus", interval=0.5)
    wait_until(lambda: _idle(cloud) or None, timeout=120, what="the local cloud idle")
    assert _logged(cloud, DELIVERY) == EVENTS
    assert {s["name"]: _logged(cloud, s) for s in [ORDER, *OTHERS]} == {
        s["name"]: 0 for s in [ORDER, *OTHERS]}

    destroyed = _cli(cloud, config, "destroy", "--yes", "--discard-data")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
