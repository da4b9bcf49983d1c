"""Who may act on the running local cloud: its control routes need the secret that only
`local up` and its children know; AWS calls need credentials, and STS AssumeRole admits
only what a role's trust policy admits."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import botocore.exceptions
import pytest
from local_up_helpers import ACCOUNT_ROLE, BUS_ACCOUNT, ORDER_ACCOUNT, Cloud

from infra_bootstrap import names

pytestmark = pytest.mark.integration


def _call(url: str, method: str = "GET", body: object = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_forged_control_request_is_refused_and_changes_nothing(cloud: Cloud) -> None:
    # An attacker resetting every account, then reading the endpoint's stats. (There is no
    # route that re-points a function's events any more: functions run only in the runtime.)
    forged = {"X-Localcloud-Secret": "guessed"}

    reset = _call(f"{cloud.aws}/moto-api/reset", "POST", {}, forged)
    stats = _call(f"{cloud.aws}/_local/stats", "GET", None, forged)
    order_id = cloud.post_order()

    assert reset[0] == stats[0] == 403
    cloud.wait_delivered(order_id)  # nothing was reset


def test_the_secret_of_local_up_opens_its_control_routes(cloud: Cloud) -> None:
    status, stats = _call(f"{cloud.aws}/_local/stats", headers=cloud.shared.control_headers)

    assert status == 200
    assert "stats" in stats


# --- credentials and trust, as the user's AWS path meets them ---------------------------------


def _refusal(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        call(**kwargs)
    return refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]


def test_the_order_account_cannot_assume_the_bus_accounts_admin_role(cloud: Cloud) -> None:
    target = names.role_arn(BUS_ACCOUNT, ACCOUNT_ROLE)

    code, message = _refusal(cloud.client(ORDER_ACCOUNT, "sts").assume_role,
                             RoleArn=target, RoleSessionName="escalate")

    assert code == "AccessDenied"
    assert message == (f"User: arn:aws:sts::{ORDER_ACCOUNT}:assumed-role/{ACCOUNT_ROLE}/"
                       f"integration-test is not authorized to perform: sts:AssumeRole on "
                       f"resource: {target}")


def test_a_role_that_does_not_exist_cannot_be_assumed(cloud: Cloud) -> None:
    code, _ = _refusal(cloud.client(ORDER_ACCOUNT, "sts").assume_role,
                       RoleArn=names.role_arn(BUS_ACCOUNT, "NoSuchRole"),
                       RoleSessionName="probe")

    assert code == "AccessDenied"


def test_the_forwarding_role_is_for_eventbridge_only(cloud: Cloud) -> None:
    forwarding = names.forward_role_arn(BUS_ACCOUNT, "delivery-service")

    from_order = _refusal(cloud.client(ORDER_ACCOUNT, "sts").assume_role,
                          RoleArn=forwarding, RoleSessionName="impersonate")
    from_its_own_account = _refusal(cloud.client(BUS_ACCOUNT, "sts").assume_role,
                                    RoleArn=forwarding, RoleSessionName="impersonate")
    order_id = cloud.post_order()

    assert from_order[0] == from_its_own_account[0] == "AccessDenied"
    cloud.wait_delivered(order_id)  # EventBridge itself still forwards with it


def test_requests_without_credentials_act_as_no_account(cloud: Cloud) -> None:
    # No Authorization header, only moto's account header: refused as AWS refuses it.
    status, body = _call(cloud.aws, "POST", {"Entries": []}, {
        "X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": "application/x-amz-json-1.1",
        "x-moto-account-id": BUS_ACCOUNT})

    assert status == 400
    assert body["__type"] == "MissingAuthenticationTokenException"
