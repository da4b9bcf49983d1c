"""The router through its two seams, without moto or HTTP: a control plane held in dicts
(``CloudState``) and a function invoker that runs Python callables (``FunctionInvoker``).
What the router does with them is EventBridge's and Lambda's behaviour, specified by the
component tests against the real endpoint; here, that the seams carry it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from localcloud import arns
from localcloud.arns import Arn, BusRef
from localcloud.config import RouterConfig
from localcloud.functions import FunctionUnreachable, InvocationResult
from localcloud.retries import Exhausted, RetryIn, next_attempt
from localcloud.router import Caller, Router
from localcloud.state import ArchiveRef, Credential, Function, Queue, Role, Rule

REGION, ACCOUNT = "eu-west-1", "123412341234"
EVENTS_MAY_SEND = json.dumps({"Statement": [{
    "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
    "Action": "sqs:SendMessage", "Resource": "*"}]})
EVENTS_MAY_INVOKE = json.dumps({"Statement": [{
    "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
    "Action": "lambda:InvokeFunction", "Resource": "*"}]})


@dataclass
class DictState:
    """A control plane of one account: buses with rules, queues, functions."""

    bus_rules: dict[str, list[Rule]] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    sent: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    default_account: str = "000000000000"

    def credential(self, access_key: str) -> Credential | None:
        return None

    def issue_session(self, role_arn: str, session_name: str, duration_s: int
                      ) -> Credential:
        raise NotImplementedError("no STS in this test's control plane")

    def create_role(self, role_arn: str, trust_policy: str,
                    inline_policies: Mapping[str, str]) -> bool:
        return False

    def organization_id(self, account: str) -> str | None:
        return None

    def role(self, role_arn: str) -> Role | None:
        return None

    def bus_exists(self, bus: BusRef) -> bool:
        return bus.name in self.bus_rules

    def bus_policy(self, bus: BusRef) -> str | None:
        return None

    def rules(self, bus: BusRef) -> list[Rule]:
        return self.bus_rules.get(bus.name, [])

    def archive_of(self, target: Mapping[str, Any]) -> ArchiveRef | None:
        return None

    def archive_event(self, archive: ArchiveRef, envelope: Mapping[str, Any]) -> bool:
        return False

    def log_group_exists(self, region: str, account: str, group: str) -> bool:
        return False

    def logs_resource_policies(self, region: str, account: str) -> tuple[str, ...]:
        return ()

    def append_log_event(self, region: str, account: str, group: str, stream: str,
                         message: str) -> None:
        raise AssertionError("no log group here")

    def queue(self, arn: Arn) -> Queue | None:
        return self.queues.get(str(arn))

    def send_message(self, arn: Arn, body: str, *, attributes: Mapping[str, str],
                     group_id: str | None, deduplication_id: str | None) -> None:
        self.sent.append((arn.resource, body, dict(attributes)))

    def function(self, arn: Arn) -> Function | None:
        return self.functions.get(arns.unqualified_function(arn))


@dataclass
class CallableInvoker:
    """Runs functions as Python callables; a raised exception is a function error."""

    handlers: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def unavailable(self, function_arn: str) -> str | None:
        return None if function_arn in self.handlers else f"nothing runs {function_arn}"

    def invoke(self, function_arn: str, payload: str, *, timeout_s: float,
               request_id: str) -> InvocationResult:
        self.calls.append(function_arn)
        handler = self.handlers.get(function_arn)
        if handler is None:
            raise FunctionUnreachable("callable", function_arn, "gone")
        try:
            return InvocationResult(200, handler(json.loads(payload)))
        except Exception as exc:
            return InvocationResult(200, {"errorMessage": str(exc),
                                          "errorType": type(exc).__name__}, "Unhandled")


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def rule(name: str, pattern: dict[str, Any], *targets: dict[str, Any]) -> Rule:
    return Rule(name, f"arn:aws:events:{REGION}:{ACCOUNT}:rule/b/{name}", ACCOUNT, "ENABLED",
                json.dumps(pattern), targets)


@pytest.fixture
def state() -> DictState:
    return DictState(queues={queue_arn(q): Queue(q, EVENTS_MAY_SEND)
                                  for q in ("inbox", "failures")})


@pytest.fixture
def invoker() -> CallableInvoker:
    return CallableInvoker()


@pytest.fixture
def router(state: DictState, invoker: CallableInvoker) -> Iterator[Router]:
    running = Router(RouterConfig(time_scale=1 / 60000), state=state, invoker=invoker)
    yield running
    running.stop()


def publish(router: Router, detail_type: str) -> dict[str, Any]:
    return router.put_events(Caller(ACCOUNT, REGION), [{
        "EventBusName": "b", "Source": "test", "DetailType": detail_type, "Detail": "{}"}])


def test_events_matched_on_a_state_held_in_dicts_reach_its_queue(
        router: Router, state: DictState) -> None:
    state.bus_rules["b"] = [rule("to-inbox", {"detail-type": ["Wanted"]},
                             {"Id": "q", "Arn": queue_arn("inbox")})]

    wanted = publish(router, "Wanted")
    publish(router, "Unwanted")

    assert router.wait_idle(10)
    [(queue, body, attributes)] = state.sent
    assert (queue, attributes) == ("inbox", {})
    assert json.loads(body)["id"] == wanted["Entries"][0]["EventId"]
    assert router.stats["routed"] == 2 and router.stats["delivered"] == 1


def test_a_function_error_from_the_invoker_is_retried_then_recorded_at_its_destination(
        router: Router, state: DictState, invoker: CallableInvoker) -> None:
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"
    state.functions[function_arn] = Function(function_arn, 3.0, EVENTS_MAY_INVOKE, {
        "MaximumRetryAttempts": 1,
        "DestinationConfig": {"OnFailure": {"Destination": queue_arn("failures")}}})
    state.bus_rules["b"] = [rule("to-f", {"source": ["test"]}, {"Id": "f", "Arn": function_arn})]

    def refuse(event: Any) -> Any:
        raise ValueError("refused")

    invoker.handlers[function_arn] = refuse

    publish(router, "Anything")

    assert router.wait_idle(10)
    assert invoker.calls == [function_arn, function_arn]
    [(queue, body, _)] = state.sent
    record = json.loads(body)
    assert queue == "failures"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responsePayload"] == {"errorMessage": "refused", "errorType": "ValueError"}


@pytest.mark.parametrize(("policy", "retries", "age_s", "retriable", "expected"), [
    (None, 0, 0.0, False, Exhausted(None)),
    (None, 3, 10.0, True, RetryIn(8.0)),
    (None, 20, 0.0, True, RetryIn(300.0)),
    ({"MaximumRetryAttempts": 2}, 2, 0.0, True, Exhausted("MaximumRetryAttempts")),
    ({"MaximumEventAgeInSeconds": 60}, 5, 30.0, True, Exhausted("MaximumEventAgeInSeconds")),
])
def test_what_follows_a_failed_delivery(policy: dict[str, int] | None, retries: int,
                                        age_s: float, retriable: bool,
                                        expected: RetryIn | Exhausted) -> None:
    assert next_attempt(policy, retries=retries, age_s=age_s, retriable=retriable,
                        backoff_base_s=1.0, backoff_cap_s=300.0) == expected
