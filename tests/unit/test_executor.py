"""The executor runs a plan's calls and waiters, botocore's and its own."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra_bootstrap import executor
from infra_bootstrap.errors import AwsCallError
from infra_bootstrap.planner import Call

ACCOUNT = "222222222222"
WAIT = Call(ACCOUNT, "dynamodb", "wait:continuous_backups_enabled", {"TableName": "t"},
            "wait until backups of DynamoDB table t are available", "DynamoDB table t",
            mutating=False)
ENABLE_PITR = Call(ACCOUNT, "dynamodb", "update_continuous_backups", {
    "TableName": "t", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}},
    "turn on point-in-time recovery of DynamoDB table t", "DynamoDB table t")


class _Sessions:
    def __init__(self, client: Any) -> None:
        self._client = client

    def client(self, account: str, service: str) -> Any:
        assert (account, service) == (ACCOUNT, "dynamodb")
        return self._client


def _backups(status: str) -> dict[str, Any]:
    return {"ContinuousBackupsDescription": {
        "ContinuousBackupsStatus": status,
        "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}}


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(executor, "WAITER_CONFIG", {"Delay": 0, "MaxAttempts": 3})
    return boto3.client("dynamodb", region_name="eu-west-1")


def test_pitr_waits_until_a_new_table_can_take_backups(dynamodb: Any) -> None:
    with Stubber(dynamodb) as stub:
        stub.add_client_error("describe_continuous_backups",
                              "ContinuousBackupsUnavailableException",
                              "Backups are being enabled for the table", 400)
        stub.add_response("describe_continuous_backups", _backups("DISABLED"))
        stub.add_response("describe_continuous_backups", _backups("ENABLED"))
        stub.add_response("update_continuous_backups", _backups("ENABLED"))

        done = executor.execute([WAIT, ENABLE_PITR], _Sessions(dynamodb))  # type: ignore[arg-type]

        stub.assert_no_pending_responses()
    assert done == [WAIT, ENABLE_PITR]


def test_a_waiter_that_never_succeeds_is_one_clear_error(dynamodb: Any) -> None:
    with Stubber(dynamodb) as stub:
        for _ in range(3):
            stub.add_response("describe_continuous_backups", _backups("DISABLED"))

        with pytest.raises(AwsCallError) as raised:
            executor.execute([WAIT, ENABLE_PITR], _Sessions(dynamodb))  # type: ignore[arg-type]

    assert str(raised.value).startswith(
        f"account {ACCOUNT}: dynamodb:ContinuousBackupsEnabled on DynamoDB table t failed: "
        "Waiter ContinuousBackupsEnabled failed: Max attempts exceeded")


PUT_POLICY = Call(ACCOUNT, "dynamodb", "update_continuous_backups", ENABLE_PITR.params,
                  "a call whose policy names a role created moments ago", "DynamoDB table t")


def test_a_principal_iam_has_not_propagated_yet_is_retried_until_visible(dynamodb: Any) -> None:
    slept: list[float] = []
    with Stubber(dynamodb) as stub:
        for _ in range(2):
            stub.add_client_error("update_continuous_backups", "ValidationException",
                                  "Invalid principal in policy document", 400)
        stub.add_response("update_continuous_backups", _backups("ENABLED"))

        done = executor.execute([PUT_POLICY], _Sessions(dynamodb),  # type: ignore[arg-type]
                                sleep=slept.append)

        stub.assert_no_pending_responses()
    assert done == [PUT_POLICY]
    assert slept == list(executor.PRINCIPAL_PROPAGATION_DELAYS[:2])


def test_a_principal_that_never_appears_fails_after_the_bounded_retries(dynamodb: Any) -> None:
    slept: list[float] = []
    with Stubber(dynamodb) as stub:
        for _ in range(len(executor.PRINCIPAL_PROPAGATION_DELAYS) + 1):
            stub.add_client_error("update_continuous_backups", "ValidationException",
                                  "Invalid principal in policy document", 400)

        with pytest.raises(AwsCallError, match="Invalid principal"):
            executor.execute([PUT_POLICY], _Sessions(dynamodb),  # type: ignore[arg-type]
                             sleep=slept.append)

    assert slept == list(executor.PRINCIPAL_PROPAGATION_DELAYS)


def test_other_client_errors_are_not_retried(dynamodb: Any) -> None:
    slept: list[float] = []
    with Stubber(dynamodb) as stub:
        stub.add_client_error("update_continuous_backups", "AccessDeniedException",
                              "not authorized to perform UpdateContinuousBackups", 400)

        with pytest.raises(AwsCallError, match="AccessDenied"):
            executor.execute([PUT_POLICY], _Sessions(dynamodb),  # type: ignore[arg-type]
                             sleep=slept.append)

    assert slept == []
