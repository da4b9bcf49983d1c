"""The local cloud as a user meets it: `local up` in a subprocess, driven over HTTP and boto3.

One `local up` serves every test that asks for ``cloud``, across every xdist worker of the
run (tests/shared_local_cloud.py); it picks its own free ports (port 0) and names them in
its ready line; the delivery delay is 1 s (the concurrency test needs a real delay, the
others only wait for it once). The tests of `local up` as a command start their own.
"""

from __future__ import annotations

import pytest
from local_up_helpers import Cloud

from tests.shared_local_cloud import SharedCloud


@pytest.fixture(scope="session")
def _shared_cloud(shared_local_cloud: SharedCloud) -> Cloud:
    return Cloud(shared_local_cloud)


@pytest.fixture
def cloud(_shared_cloud: Cloud) -> Cloud:
    assert _shared_cloud.shared.alive(), "local up died during the tests"
    return _shared_cloud
