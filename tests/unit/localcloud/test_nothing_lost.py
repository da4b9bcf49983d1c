"""Nothing accepted is lost: a failure injected at each stage of delivery ends as a retry,
a dead letter or a counted and logged drop (``Router.stats`` / ``failures``, which
``/_local/stats`` serves), never as an event that silently vanished."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from test_router_seams import (
    ACCOUNT,
    EVENTS_MAY_INVOKE,
    REGION,
    CallableInvoker,
    DictState,
    queue_arn,
    rule,
)

from localcloud.arns import Arn, BusRef
from localcloud.config import RouterConfig
from localcloud.functions import InvocationResult
from localcloud.router import Caller, Router
from localcloud.state import Function, Queue, Rule

FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"


class FaultyState(DictState):
    """A control plane whose writes to chosen queues, or whose rule reads, crash."""

    def __init__(self) -> None:
        super().__init__(queues={queue_arn(q): Queue(q, EVENTS_MAY_SEND_ALL)
                                 for q in ("inbox", "dlq", "failures")})
        self.crashing_queues: set[str] = set()
        self.rules_crash = False

    def rules(self, bus: BusRef) -> list[Rule]:
        if self.rules_crash:
            raise KeyError("a moto model changed shape")
        return super().rules(bus)

    def send_message(self, arn: Arn, body: str, **kwargs: Any) -> None:
        if arn.resource in self.crashing_queues:
            raise RuntimeError(f"{arn.resource} broke")
        body.encode("utf-8")  # as a real queue store does
        super().send_message(arn, body, **kwargs)


EVENTS_MAY_SEND_ALL = json.dumps({"Statement": [{
    "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
    "Action": "sqs:SendMessage", "Resource": "*"}]})


class WireInvoker(CallableInvoker):
    """Encodes the payload as the HTTP hop to a worker does, and can crash itself."""

    crash: Exception | None = None

    def invoke(self, function_arn: str, payload: str, *, timeout_s: float,
               request_id: str) -> InvocationResult:
        if self.crash is not None:
            self.calls.append(function_arn)
            raise self.crash
        payload.encode("utf-8")
        return super().invoke(function_arn, payload, timeout_s=timeout_s,
                              request_id=request_id)


@pytest.fixture
def state() -> FaultyState:
    return FaultyState()


@pytest.fixture
def invoker() -> WireInvoker:
    return WireInvoker()


@pytest.fixture
def router(state: FaultyState, invoker: WireInvoker) -> Iterator[Router]:
    running = Router(RouterConfig(time_scale=1 / 60000), state=state, invoker=invoker)
    yield running
    running.stop()


def publish(router: Router, detail: dict[str, Any] | None = None) -> str:
    answer = router.put_events(Caller(ACCOUNT, REGION), [{
        "EventBusName": "b", "Source": "test", "DetailType": "Thing",
        "Detail": json.dumps(detail or {})}])
    assert answer["FailedEntryCount"] == 0
    assert router.wait_idle(10)
    return str(answer["Entries"][0]["EventId"])


def to_queue(name: str, **target: Any) -> Rule:
    return rule("r", {"source": ["test"]}, {"Id": "t", "Arn": queue_arn(name), **target})


def with_function(state: FaultyState, config: dict[str, Any] | None) -> None:
    state.functions[FUNCTION] = Function(FUNCTION, 3.0, EVENTS_MAY_INVOKE, config)
    state.bus_rules["b"] = [rule("r", {"source": ["test"]}, {"Id": "f", "Arn": FUNCTION})]


def outcomes(router: Router) -> dict[str, int]:
    return {k: v for k, v in router.stats.items()
            if k in ("delivered", "dead_lettered", "dropped", "unknown_bus") and v}


def test_a_crashing_target_write_goes_to_the_dead_letter_queue_with_internal_error(
        router: Router, state: FaultyState) -> None:
    state.crashing_queues.add("inbox")
    state.bus_rules["b"] = [to_queue("inbox", DeadLetterConfig={"Arn": queue_arn("dlq")})]

    event_id = publish(router)

    [(queue, body, attributes)] = state.sent
    assert (queue, json.loads(body)["id"]) == ("dlq", event_id)
    assert attributes["ERROR_CODE"] == "INTERNAL_ERROR"
    assert "inbox broke" in attributes["ERROR_MESSAGE"]
    assert outcomes(router) == {"dead_lettered": 1}


def test_a_crashing_target_without_a_dead_letter_queue_is_a_counted_drop(
        router: Router, state: FaultyState) -> None:
    state.crashing_queues.add("inbox")
    state.bus_rules["b"] = [to_queue("inbox")]

    event_id = publish(router)

    assert outcomes(router) == {"dropped": 1}
    [failure] = router.failures
    assert (failure["eventId"], failure["code"]) == (event_id, "INTERNAL_ERROR")


def test_a_crashing_dead_letter_queue_is_a_counted_drop_naming_both_failures(
        router: Router, state: FaultyState) -> None:
    state.crashing_queues.update({"inbox", "dlq"})
    state.bus_rules["b"] = [to_queue("inbox", DeadLetterConfig={"Arn": queue_arn("dlq")})]

    publish(router)

    assert outcomes(router) == {"dropped": 1}
    assert [f["code"] for f in router.failures] == ["INTERNAL_ERROR", "DLQ failed"]
    assert "dlq broke" in router.failures[-1]["message"]


def test_rules_that_cannot_be_read_drop_the_event_counted_and_logged(
        router: Router, state: FaultyState, caplog: pytest.LogCaptureFixture) -> None:
    state.bus_rules["b"] = [to_queue("inbox")]
    state.rules_crash = True

    event_id = publish(router)

    assert outcomes(router) == {"dropped": 1}
    assert router.failures[-1]["eventId"] == event_id
    assert "a moto model changed shape" in router.failures[-1]["message"]
    assert "routing of" in caplog.text


def test_an_event_whose_bus_was_deleted_after_acceptance_is_counted_as_unknown_bus(
        router: Router, state: FaultyState) -> None:
    state.bus_rules["b"] = [to_queue("inbox")]
    router.scheduler.enqueue(lambda: state.bus_rules.pop("b"), lane=ACCOUNT)

    publish(router)

    assert outcomes(router) == {"unknown_bus": 1}
    assert router.failures[-1]["code"] == "unknown_bus"


def test_an_unreadable_retry_policy_is_a_counted_drop_not_a_crash(
        router: Router, state: FaultyState) -> None:
    # Nothing runs the function: a retriable failure, whose RetryPolicy cannot be read.
    state.functions[FUNCTION] = Function(FUNCTION, 3.0, EVENTS_MAY_INVOKE, None)
    state.bus_rules["b"] = [rule("r", {"source": ["test"]}, {
        "Id": "f", "Arn": FUNCTION, "RetryPolicy": {"MaximumRetryAttempts": "many"}})]

    publish(router)

    assert outcomes(router) == {"dropped": 1}
    assert "ValueError" in router.failures[-1]["message"]


def test_a_crash_of_the_local_runtime_is_retried_by_lambda_then_recorded_on_failure(
        router: Router, state: FaultyState, invoker: WireInvoker) -> None:
    with_function(state, {"MaximumRetryAttempts": 1, "DestinationConfig": {
        "OnFailure": {"Destination": queue_arn("failures")}}})
    invoker.handlers[FUNCTION] = lambda event: None
    invoker.crash = UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    publish(router)

    assert invoker.calls == [FUNCTION, FUNCTION]
    [(queue, body, _)] = state.sent
    record = json.loads(body)
    assert queue == "failures"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responsePayload"]["errorType"] == "ServiceException"
    assert "UnicodeEncodeError" in record["responsePayload"]["errorMessage"]
    assert outcomes(router) == {"delivered": 1, "dead_lettered": 1}


def test_a_crash_of_the_local_runtime_without_a_destination_is_a_counted_drop(
        router: Router, state: FaultyState, invoker: WireInvoker) -> None:
    with_function(state, {"MaximumRetryAttempts": 0})
    invoker.handlers[FUNCTION] = lambda event: None
    invoker.crash = RuntimeError("worker protocol broke")

    publish(router)

    assert outcomes(router) == {"delivered": 1, "dropped": 1}
    assert router.failures[-1]["code"] == "lambda RetriesExhausted"


def test_a_crashing_destination_is_a_counted_drop(
        router: Router, state: FaultyState, invoker: WireInvoker) -> None:
    with_function(state, {"MaximumRetryAttempts": 0, "DestinationConfig": {
        "OnFailure": {"Destination": queue_arn("failures")}}})
    invoker.handlers[FUNCTION] = lambda event: 1 / 0
    state.crashing_queues.add("failures")

    publish(router)

    assert outcomes(router) == {"delivered": 1, "dropped": 1}
    assert router.failures[-1]["code"] == "destination failed"


def test_an_event_holding_a_lone_surrogate_reaches_a_function_and_a_queue(
        router: Router, state: FaultyState, invoker: WireInvoker) -> None:
    seen: list[Any] = []
    with_function(state, None)
    state.bus_rules["b"].append(to_queue("inbox"))
    invoker.handlers[FUNCTION] = lambda event: seen.append(event["detail"]["name"])

    publish(router, {"name": "\ud800"})

    assert seen == ["\ud800"]
    [(queue, body, _)] = state.sent
    assert queue == "inbox"
    assert json.loads(body)["detail"]["name"] == "\ud800"
    assert outcomes(router) == {"delivered": 2}
