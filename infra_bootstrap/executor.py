"""Runs a plan's calls in order through the per-account clients; stops at the first error.

botocore's standard retry mode (``sessions.CLIENT_CONFIG``) already retries throttling
and transient errors with backoff; what still fails ends the run with an
:class:`AwsCallError` naming the account, the API call and the resource.

>>> execute(plan_calls, sessions, on_call=lambda call: print(call.description))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import botocore.exceptions
import botocore.waiter

from infra_bootstrap.errors import AwsCallError
from infra_bootstrap.planner import WAIT_PREFIX, Call
from infra_bootstrap.sessions import AccountSessions

# A new on-demand table is ACTIVE within seconds; give up after 5 minutes.
WAITER_CONFIG = {"Delay": 2, "MaxAttempts": 150}
# Waiters botocore does not ship, in its waiter-model format, by service.
CUSTOM_WAITERS: dict[str, dict[str, Any]] = {
    "dynamodb": {"version": 2, "waiters": {"ContinuousBackupsEnabled": {
        "operation": "DescribeContinuousBackups", "delay": 2, "maxAttempts": 150,
        "acceptors": [
            {"matcher": "path", "argument": "ContinuousBackupsDescription.ContinuousBackupsStatus",
             "expected": "ENABLED", "state": "success"},
            {"matcher": "error", "expected": "ContinuousBackupsUnavailableException",
             "state": "retry"},
        ]}}},
}


def execute(calls: Iterable[Call], sessions: AccountSessions, *,
            on_call: Callable[[Call], None] | None = None) -> list[Call]:
    """Run ``calls`` in order; return those that ran. ``on_call`` is told before each."""
    done: list[Call] = []
    for call in calls:
        if on_call is not None:
            on_call(call)
        client = sessions.client(call.account, call.service)
        try:
            if call.operation.startswith(WAIT_PREFIX):
                waiter = _waiter(client, call.service, call.operation.removeprefix(WAIT_PREFIX))
                waiter.wait(**call.params, WaiterConfig=WAITER_CONFIG)
            else:
                getattr(client, call.operation)(**call.params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise AwsCallError(call.account, call.api_name, call.resource,
                               _one_line(str(exc))) from None
        done.append(call)
    return done


def _waiter(client: Any, service: str, name: str) -> botocore.waiter.Waiter:
    """botocore's waiter ``name`` (snake_case), or ours from :data:`CUSTOM_WAITERS`."""
    model = CUSTOM_WAITERS.get(service)
    camel = "".join(part.capitalize() for part in name.split("_"))
    if model is not None and camel in model["waiters"]:
        return botocore.waiter.create_waiter_with_client(
            camel, botocore.waiter.WaiterModel(model), client)
    return client.get_waiter(name)


def _one_line(message: str) -> str:
    return " ".join(message.split())
