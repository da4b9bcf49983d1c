"""Stopping the endpoint: new requests get 503 with Retry-After, the local cloud's own
callers and the control routes are still served, accepted work finishes within the drain
window and what does not is reported (localcloud.drain)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from dataplane_support import PLAIN_KEYS, Cloud

from localcloud.config import RouterConfig
from localcloud.drain import RETRY_AFTER_S, Leftovers
from localcloud.endpoint import Endpoint

# One AWS second = 1 ms here: a retry "60 s" away is due in 60 ms.
TIME_SCALE = 1 / 1000
NO_RETRIES = Config(retries={"mode": "standard", "max_attempts": 1})


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    """An endpoint of its own: a drain cannot be undone."""
    with Endpoint(port=0, config=RouterConfig(time_scale=TIME_SCALE)) as running:
        yield running


def test_while_draining_a_new_request_gets_503_service_unavailable_with_retry_after(
        endpoint: Endpoint) -> None:
    cloud = Cloud(endpoint)
    sqs = cloud.client_with(PLAIN_KEYS, "sqs", config=NO_RETRIES)
    sqs.list_queues()

    endpoint.drain(0)

    with pytest.raises(ClientError) as refused:
        sqs.list_queues()
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert error["Error"]["Code"] == "ServiceUnavailable"
    assert error["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == str(RETRY_AFTER_S)


def test_while_draining_the_local_clouds_own_credentials_and_control_routes_are_served(
        endpoint: Endpoint) -> None:
    cloud = Cloud(endpoint)
    own = cloud.credentials(cloud.new_account())
    endpoint.gate.own(own["aws_access_key_id"])

    endpoint.drain(0)

    assert cloud.client_with(own, "sqs", config=NO_RETRIES).list_queues()[
        "ResponseMetadata"]["HTTPStatusCode"] == 200
    idle = requests.get(f"{endpoint.url}/_local/idle?timeout=1",
                        headers=endpoint.control_headers, timeout=30)
    assert idle.status_code == 200


def test_a_public_stage_url_gets_503_while_draining(endpoint: Endpoint) -> None:
    endpoint.drain(0)

    answer = requests.get(f"{endpoint.url}/restapis/abc/api/_user_request_/orders", timeout=30)

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_S)


def test_the_drain_waits_for_work_in_flight_and_retries_due_within_its_window(
        endpoint: Endpoint) -> None:
    scheduler = endpoint.router.scheduler  # type: ignore[union-attr]
    done: list[str] = []
    release = threading.Event()

    def invocation() -> None:  # a Lambda invocation still running when the stop comes
        release.wait(10)
        done.append("invocation")

    scheduler.submit(invocation)
    scheduler.later(100, lambda: done.append("retry"), on_pool=True)  # due in 0.1 s
    threading.Timer(0.2, release.set).start()

    leftovers = endpoint.drain(30)

    assert leftovers == Leftovers(0, 0)
    assert sorted(done) == ["invocation", "retry"]


def test_what_the_window_leaves_is_counted_not_waited_for(endpoint: Endpoint) -> None:
    scheduler = endpoint.router.scheduler  # type: ignore[union-attr]
    release = threading.Event()
    scheduler.submit(lambda: release.wait(30) and None)
    scheduler.later(3600, lambda: None, on_pool=True)  # an hour away: 3.6 s here

    leftovers = endpoint.drain(0.2)
    release.set()

    assert leftovers == Leftovers(deliveries=1, retries=1)
    assert leftovers.line() == ("stopped with 1 delivery pending, 1 retry scheduled "
                                "(lost: run with --state-dir to keep them)")


def test_work_a_state_file_cannot_keep_is_counted_at_stop(tmp_path: Path) -> None:
    endpoint = Endpoint(port=0, config=RouterConfig(time_scale=TIME_SCALE),
                        state_dir=tmp_path).start()
    # Untagged work (as a replay's steps are): it cannot be described in a state file.
    endpoint.router.scheduler.later(3600, lambda: None, on_pool=False)  # type: ignore[union-attr]

    endpoint.stop()

    assert endpoint.unkept == 1
    assert (tmp_path / "localcloud-state.pickle").exists()
