"""Runs a plan's calls in order through the per-account clients; stops at the first error.

botocore's standard retry mode (``sessions.CLIENT_CONFIG``) already retries throttling
and transient errors with backoff; what still fails ends the run with an
:class:`AwsCallError` naming the account, the API call and the resource.

>>> from infra_bootstrap.topology import load_stage
>>> create = Call("111111111111", "sqs", "create_queue", {"QueueName": "q"}, "create q", "q")
>>> done = execute([create], AccountSessions(load_stage("local")),
...                on_call=lambda call: print(call.description))
create q
"""

from __future__ import annotations

import re
import time
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


# IAM is eventually consistent: for some seconds after a role is created, another
# service's resource-policy API (here: the local bus policy naming the forwarding role
# of the bus account) can refuse it as "an invalid principal". Retrying is the only
# cure. Reports: hashicorp/terraform-provider-aws#41617 (Lambda AddPermission),
# #42933 (DynamoDB PutResourcePolicy), boto/boto3#3206 (Secrets Manager).
PRINCIPAL_PROPAGATION_DELAYS: tuple[float, ...] = (1, 2, 4, 8, 15, 30)
_INVALID_PRINCIPAL = re.compile(
    r"invalid principal|principal was invalid|principal .*does not exist", re.IGNORECASE)


def execute(calls: Iterable[Call], sessions: AccountSessions, *,
            on_call: Callable[[Call], None] | None = None,
            sleep: Callable[[float], None] = time.sleep) -> list[Call]:
    """Run ``calls`` in order; return those that ran. ``on_call`` is told before each."""
    done: list[Call] = []
    for call in calls:
        if on_call is not None:
            on_call(call)
        client = sessions.client(call.account, call.service)
        for delay in (*PRINCIPAL_PROPAGATION_DELAYS, None):
            try:
                _run(client, call)
                break
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                if delay is None or not _principal_not_yet_visible(exc):
                    raise AwsCallError(call.account, call.api_name, call.resource,
                                       _one_line(str(exc))) from None
                sleep(delay)
        done.append(call)
    return done


def _run(client: Any, call: Call) -> None:
    if call.operation.startswith(WAIT_PREFIX):
        waiter = _waiter(client, call.service, call.operation.removeprefix(WAIT_PREFIX))
        waiter.wait(**call.params, WaiterConfig=WAITER_CONFIG)
    else:
        getattr(client, call.operation)(**call.params)


def _principal_not_yet_visible(exc: Exception) -> bool:
    """A 400 that refuses a policy's principal: possibly a role IAM has not propagated."""
    if not isinstance(exc, botocore.exceptions.ClientError):
        return False
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 400 and bool(_INVALID_PRINCIPAL.search(str(error.get("Message", ""))))


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
