"""Who may act on the running local cloud: its control routes need the secret that only
`local up` and its children know; forged control requests are refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from local_up_helpers import Cloud

pytestmark = pytest.mark.integration


def _call(url: str, method: str = "GET", body: object = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_forged_control_request_is_refused_and_changes_nothing(cloud: Cloud) -> None:
    # An attacker re-pointing a function's events to itself, then resetting everything.
    route = {"functionArn": "arn:aws:lambda:eu-west-1:333333333333:function:x",
             "url": "http://127.0.0.1:9"}
    forged = {"X-Localcloud-Secret": "guessed"}

    routed = _call(f"{cloud.aws}/_local/lambda-routes", "POST", route, forged)
    reset = _call(f"{cloud.aws}/moto-api/reset", "POST", {}, forged)
    order_id = cloud.post_order()

    assert routed[0] == reset[0] == 403
    cloud.wait_delivered(order_id)  # nothing was reset, nothing re-pointed


def test_the_secret_of_local_up_opens_its_control_routes(cloud: Cloud) -> None:
    status, stats = _call(f"{cloud.aws}/_local/stats", headers=cloud.shared.control_headers)

    assert status == 200
    assert "stats" in stats
