"""The local cloud as a user meets it: `local up` in a subprocess, driven over HTTP and boto3.

One cloud serves every test that asks for ``cloud`` (session scope; the tests carry
``xdist_group("localcloud")`` so one xdist worker runs them all). `local up` picks its
own free ports (port 0) and names them in its ready line; the delivery delay is 1 s
(the concurrency test needs a real delay, the others only wait for it once).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_up_helpers import DELIVERY_DELAY_SECONDS, Cloud, LocalUp


@pytest.fixture(scope="session")
def local_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalUp]:
    up = LocalUp.start("--delivery-delay", str(DELIVERY_DELAY_SECONDS),
                       tmpdir=tmp_path_factory.mktemp("local-up"))
    try:
        up.wait_ready()
        yield up
    finally:
        up.stop()


@pytest.fixture(scope="session")
def _shared_cloud(local_up: LocalUp) -> Cloud:
    return Cloud(local_up)


@pytest.fixture
def cloud(_shared_cloud: Cloud) -> Cloud:
    assert _shared_cloud.up.process.poll() is None, "local up died during the tests"
    return _shared_cloud
