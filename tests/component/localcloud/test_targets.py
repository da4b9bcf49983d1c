"""Rule targets on the local endpoint: log groups, buses (with roles), SQS, Lambda, and
RetryPolicy / DeadLetterConfig when a delivery fails. Sources: localcloud/targets/,
lambda_async.py, retries.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from dataplane_support import (
    EVENTS_TRUST,
    LAMBDA_TRUST,
    Cloud,
    FakeFunctions,
    FakeWorker,
    fail,
    put,
)

from localcloud.config import RouterConfig
from localcloud.endpoint import Endpoint
from tests.polling import wait_until


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    # Functions here run on fake workers, so a test decides what each invocation answers.
    with Endpoint(port=0, config=RouterConfig(time_scale=1 / 5000),
                  invoker=FakeFunctions()) as running:
        yield running


def rule_arn(account: str, bus: str, rule: str) -> str:
    return f"arn:aws:events:eu-west-1:{account}:rule/{bus}/{rule}"


def attributes(message: dict) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}


# --- log groups ---------------------------------------------------------------------------


def test_a_log_group_receives_the_event_json_when_the_logs_policy_allows(cloud: Cloud) -> None:
    account = cloud.new_account()
    cloud.bus(account, "b")
    cloud.client(account, "logs").create_log_group(logGroupName="/aws/events/b")
    cloud.logs_policy(account)
    cloud.rule(account, "b", "log-all", [{
        "Id": "log", "Arn": f"arn:aws:logs:eu-west-1:{account}:log-group:/aws/events/b"}])

    result = put(cloud.client(account, "events"), "b", detail={"n": 1})
    put(cloud.client(account, "events"), "b", detail={"n": 2})

    cloud.idle()
    messages = cloud.log_messages(account, "/aws/events/b")
    assert [json.loads(m)["detail"] for m in messages] == [{"n": 1}, {"n": 2}]
    assert json.loads(messages[0])["id"] == result["Entries"][0]["EventId"]
    streams = cloud.client(account, "logs").describe_log_streams(
        logGroupName="/aws/events/b")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["eventbridge-local"]


def log_target_with_dlq(cloud: Cloud, account: str) -> str:
    """Bus ``b``, log group /aws/events/b and rule ``log-all`` to it with a DLQ (its URL)."""
    cloud.bus(account, "b")
    cloud.client(account, "logs").create_log_group(logGroupName="/aws/events/b")
    dlq_url, dlq_arn = cloud.queue(account, "log-dlq",
                                   allow_rule=rule_arn(account, "b", "log-all"))
    cloud.rule(account, "b", "log-all", [{
        "Id": "log", "Arn": f"arn:aws:logs:eu-west-1:{account}:log-group:/aws/events/b",
        "DeadLetterConfig": {"Arn": dlq_arn}}])
    return dlq_url


def logs_statement(account: str, actions: list[str], condition: dict | None = None) -> dict:
    statement = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                 "Action": actions,
                 "Resource": f"arn:aws:logs:eu-west-1:{account}:log-group:/aws/events/b:*"}
    if condition:
        statement["Condition"] = condition
    return statement


def rule_condition(account: str, rule: str = "log-all", *, with_account: bool = False) -> dict:
    condition: dict = {"ArnEquals": {"aws:SourceArn": rule_arn(account, "b", rule)}}
    if with_account:
        condition["StringEquals"] = {"aws:SourceAccount": account}
    return condition


# Which Logs resource policy lets EventBridge write: CreateLogStream is evaluated without
# the rule ARN, PutLogEvents with it and its account (serverless-patterns PR #618; EventBridge
# User Guide, "Using IAM policy conditions in Amazon EventBridge").
LOGS_POLICIES = [
    pytest.param(lambda a: None, "NO_PERMISSIONS", id="no Logs resource policy"),
    pytest.param(lambda a: [logs_statement(a, ["logs:CreateLogStream"]),
                            logs_statement(a, ["logs:PutLogEvents"],
                                           rule_condition(a, with_account=True))],
                 None, id="PutLogEvents conditioned on the rule and its account"),
    pytest.param(lambda a: [logs_statement(a, ["logs:CreateLogStream", "logs:PutLogEvents"],
                                           rule_condition(a))],
                 "NO_PERMISSIONS", id="CreateLogStream conditioned on the rule"),
    pytest.param(lambda a: [logs_statement(a, ["logs:CreateLogStream"]),
                            logs_statement(a, ["logs:PutLogEvents"],
                                           rule_condition(a, "another-rule"))],
                 "NO_PERMISSIONS", id="PutLogEvents for another rule"),
]


@pytest.mark.parametrize(("statements", "dead_letter_code"), LOGS_POLICIES)
def test_each_logs_call_is_evaluated_with_the_context_eventbridge_sends(
        cloud: Cloud, statements: Callable[[str], list[dict] | None],
        dead_letter_code: str | None) -> None:
    account = cloud.new_account()
    dlq_url = log_target_with_dlq(cloud, account)
    policy = statements(account)
    if policy is not None:
        cloud.put_logs_policy(account, policy)

    result = put(cloud.client(account, "events"), "b")

    cloud.idle()
    written = cloud.log_messages(account, "/aws/events/b")
    dead = cloud.messages(account, dlq_url)
    if dead_letter_code is None:
        assert [json.loads(m)["id"] for m in written] == [result["Entries"][0]["EventId"]]
        assert dead == []
    else:
        assert written == []
        assert [attributes(d)["ERROR_CODE"] for d in dead] == [dead_letter_code]


# --- SQS ----------------------------------------------------------------------------------


def test_an_sqs_target_needs_a_queue_policy_for_eventbridge(cloud: Cloud) -> None:
    account = cloud.new_account()
    cloud.bus(account, "b")
    open_url, open_arn = cloud.queue(account, "open", allow_rule=rule_arn(account, "b", "r"))
    closed_url, closed_arn = cloud.queue(account, "closed")
    cloud.rule(account, "b", "r", [{"Id": "open", "Arn": open_arn},
                                   {"Id": "closed", "Arn": closed_arn}])

    result = put(cloud.client(account, "events"), "b")

    cloud.idle()
    [message] = cloud.messages(account, open_url)
    assert json.loads(message["Body"])["id"] == result["Entries"][0]["EventId"]
    assert cloud.messages(account, closed_url) == []


# --- buses across accounts ------------------------------------------------------------------


def forwarding_role(cloud: Cloud, account: str, name: str, bus_arn: str, *,
                    trust: dict = EVENTS_TRUST, allowed_bus: str | None = None) -> str:
    iam = cloud.client(account, "iam")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="put-events", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "events:PutEvents",
            "Resource": allowed_bus or bus_arn}]}))
    return role["Arn"]


def receiving_bus(cloud: Cloud, account: str, principal: str) -> tuple[str, str]:
    """A bus admitting ``principal`` (an account root or role ARN), with a capture queue."""
    arn = f"arn:aws:events:eu-west-1:{account}:event-bus/local"
    cloud.bus(account, "local", policy={"Version": "2012-10-17", "Statement": [{
        "Sid": "forwarder", "Effect": "Allow", "Principal": {"AWS": principal},
        "Action": "events:PutEvents", "Resource": arn}]})
    url, queue_arn = cloud.queue(account, "local-in", allow_rule=rule_arn(account, "local", "in"))
    cloud.rule(account, "local", "in", [{"Id": "q", "Arn": queue_arn}])
    return arn, url


def sender(cloud: Cloud, account: str, target: dict) -> tuple[str, str]:
    """A bus with a forwarding rule to ``target`` and a DLQ; returns the DLQ URL and arn."""
    cloud.bus(account, "global")
    dlq_url, dlq_arn = cloud.queue(account, "forward-dlq",
                                   allow_rule=rule_arn(account, "global", "forward"))
    cloud.rule(account, "global", "forward", [{
        **target, "Id": "fwd", "DeadLetterConfig": {"Arn": dlq_arn},
        "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}}])
    return dlq_url, dlq_arn


def test_a_bus_target_admitted_by_the_receiving_policy_for_the_sending_account(
        cloud: Cloud) -> None:
    hub, spoke = cloud.new_account(), cloud.new_account()
    spoke_arn, inbox = receiving_bus(cloud, spoke, f"arn:aws:iam::{hub}:root")
    sender(cloud, hub, {"Arn": spoke_arn})

    put(cloud.client(hub, "events"), "global")

    cloud.idle()
    assert len(cloud.messages(spoke, inbox)) == 1


def test_a_bus_target_through_its_role(cloud: Cloud) -> None:
    hub, spoke = cloud.new_account(), cloud.new_account()
    role = f"arn:aws:iam::{hub}:role/forwarder"
    spoke_arn, inbox = receiving_bus(cloud, spoke, role)
    forwarding_role(cloud, hub, "forwarder", spoke_arn)
    dlq_url, _ = sender(cloud, hub, {"Arn": spoke_arn, "RoleArn": role})

    put(cloud.client(hub, "events"), "global")

    cloud.idle()
    assert len(cloud.messages(spoke, inbox)) == 1
    assert cloud.messages(hub, dlq_url) == []


# Who the receiving bus's policy admits, by what the forwarding rule sends as.
ADMITS_ANOTHER_ACCOUNT, ADMITS_THE_ROLE, ADMITS_ANOTHER_ROLE, NO_BUS = range(4)


@pytest.mark.parametrize(("receiver", "role", "code"), [
    pytest.param(ADMITS_ANOTHER_ACCOUNT, None, "CROSS_ACCOUNT_INGESTION_FAILED",
                 id="the receiving policy does not admit the sending account"),
    pytest.param(ADMITS_THE_ROLE, (EVENTS_TRUST, False), "NO_PERMISSIONS",
                 id="the role may not put events on the bus"),
    pytest.param(ADMITS_THE_ROLE, (LAMBDA_TRUST, True), "FAILED_TO_ASSUME_ROLE",
                 id="the role does not trust EventBridge"),
    pytest.param(ADMITS_ANOTHER_ROLE, (EVENTS_TRUST, True), "CROSS_ACCOUNT_INGESTION_FAILED",
                 id="the receiving policy admits neither the role nor its account"),
    pytest.param(NO_BUS, None, "NO_RESOURCE", id="the target bus does not exist"),
])
def test_a_bus_target_eventbridge_may_not_deliver_to_goes_to_the_dlq_without_retries(
        cloud: Cloud, receiver: int, role: tuple[dict, bool] | None, code: str) -> None:
    hub, spoke = cloud.new_account(), cloud.new_account()
    role_arn = f"arn:aws:iam::{hub}:role/forwarder"
    inbox = None
    if receiver == NO_BUS:
        spoke_arn = f"arn:aws:events:eu-west-1:{spoke}:event-bus/gone"
    else:
        admitted = {ADMITS_ANOTHER_ACCOUNT: f"arn:aws:iam::{cloud.new_account()}:root",
                    ADMITS_THE_ROLE: role_arn,
                    ADMITS_ANOTHER_ROLE: f"arn:aws:iam::{hub}:role/someone-else"}[receiver]
        spoke_arn, inbox = receiving_bus(cloud, spoke, admitted)
    target = {"Arn": spoke_arn}
    if role is not None:
        trust, allowed_on_the_bus = role
        forwarding_role(cloud, hub, "forwarder", spoke_arn, trust=trust,
                        allowed_bus=spoke_arn if allowed_on_the_bus else spoke_arn + "-other")
        target["RoleArn"] = role_arn
    dlq_url, _ = sender(cloud, hub, target)

    result = put(cloud.client(hub, "events"), "global")

    cloud.idle()
    if inbox is not None:
        assert cloud.messages(spoke, inbox) == []
    [dead] = cloud.messages(hub, dlq_url)
    assert json.loads(dead["Body"])["id"] == result["Entries"][0]["EventId"]
    # Not retriable (rule-dlq.html): no retry, so no EXHAUSTED_RETRY_CONDITION either.
    assert attributes(dead) == {
        "RULE_ARN": rule_arn(hub, "global", "forward"), "TARGET_ARN": spoke_arn,
        "ERROR_CODE": code, "ERROR_MESSAGE": attributes(dead)["ERROR_MESSAGE"],
        "RETRY_ATTEMPTS": "0"}
    assert attributes(dead)["ERROR_MESSAGE"]


# --- Lambda ----------------------------------------------------------------------------------


def lambda_rule(cloud: Cloud, account: str, worker: FakeWorker | None, *, name: str = "fn",
                permission: bool = True, retry: dict | None = None,
                timeout: int = 3) -> tuple[str, str]:
    """A bus ``b`` with rule ``to-fn`` targeting function ``name``; returns (fn ARN, DLQ URL)."""
    cloud.bus(account, "b")
    arn = rule_arn(account, "b", "to-fn")
    function_arn = cloud.function(account, name, rule_arn=arn if permission else None,
                                  worker=worker, timeout=timeout)
    dlq_url, dlq_arn = cloud.queue(account, "eb-dlq", allow_rule=arn)
    target = {"Id": "fn", "Arn": function_arn, "DeadLetterConfig": {"Arn": dlq_arn}}
    if retry is not None:
        target["RetryPolicy"] = retry
    cloud.rule(account, "b", "to-fn", [target])
    return function_arn, dlq_url


def test_a_lambda_target_is_invoked_with_the_event_json(cloud: Cloud, worker: FakeWorker
                                                        ) -> None:
    account = cloud.new_account()
    lambda_rule(cloud, account, worker)

    result = put(cloud.client(account, "events"), "b", detail={"order": 7})

    cloud.idle()
    [event] = worker.calls_to("fn")
    assert event["id"] == result["Entries"][0]["EventId"]
    assert event["detail"] == {"order": 7}


def test_function_errors_are_retried_then_sent_to_the_on_failure_destination(
        cloud: Cloud, worker: FakeWorker) -> None:
    account = cloud.new_account()
    worker.behaviours["fn"] = fail
    function_arn, eb_dlq = lambda_rule(cloud, account, worker)
    failures_url, failures_arn = cloud.queue(account, "fn-failures")
    cloud.client(account, "lambda").put_function_event_invoke_config(
        FunctionName="fn", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}})

    result = put(cloud.client(account, "events"), "b", detail={"order": 7})

    cloud.idle()
    assert len(worker.calls_to("fn")) == 2
    [message] = cloud.messages(account, failures_url)
    record = json.loads(message["Body"])
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"] == f"{function_arn}:$LATEST"
    assert record["requestPayload"]["id"] == result["Entries"][0]["EventId"]
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"] == {"errorMessage": "boom", "errorType": "ValueError",
                                         "stackTrace": ["handler.py:1"]}
    assert cloud.messages(account, eb_dlq) == []


def test_without_async_config_lambda_retries_twice(cloud: Cloud, worker: FakeWorker) -> None:
    account = cloud.new_account()
    worker.behaviours["fn"] = fail
    lambda_rule(cloud, account, worker)

    put(cloud.client(account, "events"), "b")

    cloud.idle()
    assert len(worker.calls_to("fn")) == 3


def test_an_event_older_than_the_maximum_age_is_not_retried(cloud: Cloud,
                                                          worker: FakeWorker) -> None:
    account = cloud.new_account()
    worker.behaviours["fn"] = fail
    lambda_rule(cloud, account, worker)
    failures_url, failures_arn = cloud.queue(account, "fn-failures")
    # The next retry would come one minute later: past a 60-second maximum age.
    cloud.client(account, "lambda").put_function_event_invoke_config(
        FunctionName="fn", MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}})

    put(cloud.client(account, "events"), "b")

    cloud.idle()
    assert len(worker.calls_to("fn")) == 1
    [message] = cloud.messages(account, failures_url)
    assert json.loads(message["Body"])["requestContext"]["condition"] == "EventAgeExceeded"


def test_an_unreachable_worker_is_retried_per_retry_policy_then_dead_lettered(
        cloud: Cloud, worker: FakeWorker) -> None:
    account = cloud.new_account()
    worker.stop()  # given to the function, but it cannot be started any more
    _, dlq_url = lambda_rule(cloud, account, worker,
                             retry={"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600})

    put(cloud.client(account, "events"), "b")

    cloud.idle()
    [dead] = cloud.messages(account, dlq_url)
    assert attributes(dead)["ERROR_CODE"] == "CONNECTION_FAILURE"
    assert attributes(dead)["RETRY_ATTEMPTS"] == "2"
    assert attributes(dead)["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"


def test_a_missing_function_goes_to_the_dlq_without_retries(cloud: Cloud) -> None:
    account = cloud.new_account()
    cloud.bus(account, "b")
    arn = rule_arn(account, "b", "to-fn")
    dlq_url, dlq_arn = cloud.queue(account, "eb-dlq", allow_rule=arn)
    cloud.rule(account, "b", "to-fn", [{
        "Id": "fn", "Arn": f"arn:aws:lambda:eu-west-1:{account}:function:ghost",
        "DeadLetterConfig": {"Arn": dlq_arn}}])

    put(cloud.client(account, "events"), "b")

    cloud.idle()
    [dead] = cloud.messages(account, dlq_url)
    assert attributes(dead)["ERROR_CODE"] == "NO_RESOURCE"
    assert attributes(dead)["RETRY_ATTEMPTS"] == "0"


def test_a_function_without_permission_for_the_rule_is_not_invoked(
        cloud: Cloud, worker: FakeWorker) -> None:
    account = cloud.new_account()
    _, dlq_url = lambda_rule(cloud, account, worker, permission=False)

    put(cloud.client(account, "events"), "b")

    cloud.idle()
    assert worker.calls_to("fn") == []
    [dead] = cloud.messages(account, dlq_url)
    assert attributes(dead)["ERROR_CODE"] == "NO_PERMISSIONS"


# --- asynchronous delivery -------------------------------------------------------------------


def test_put_events_returns_before_a_slow_function_runs_and_others_keep_flowing(
        cloud: Cloud, worker: FakeWorker) -> None:
    account = cloud.new_account()
    release = threading.Event()
    started = threading.Event()

    def slow(event: dict) -> tuple[int, dict, dict]:
        started.set()
        release.wait(10)
        return 200, {}, {"done": True}

    worker.behaviours["fn"] = slow
    lambda_rule(cloud, account, worker)
    other_url, other_arn = cloud.queue(account, "other", allow_rule=rule_arn(account, "b", "o"))
    cloud.rule(account, "b", "o", [{"Id": "q", "Arn": other_arn}],
               pattern={"detail-type": ["Other"]})
    events = cloud.client(account, "events")

    try:
        put(events, "b", detail_type="Slow")
        wait_until(started.is_set)
        before = time.monotonic()
        put(events, "b", detail_type="Other")
        delivered = wait_until(lambda: cloud.messages(account, other_url))
        assert time.monotonic() - before < 5
        assert json.loads(delivered[0]["Body"])["detail-type"] == "Other"
        assert not cloud.endpoint.wait_idle(0.05)
    finally:
        release.set()
    cloud.idle()


def test_invocations_of_one_function_run_concurrently(cloud: Cloud, worker: FakeWorker
                                                      ) -> None:
    account = cloud.new_account()
    together = threading.Barrier(3, timeout=5)

    def meet(event: dict) -> tuple[int, dict, dict]:
        together.wait()  # raises BrokenBarrierError unless 3 invocations overlap
        return 200, {}, {}

    worker.behaviours["fn"] = meet
    lambda_rule(cloud, account, worker, timeout=10)
    events = cloud.client(account, "events")

    events.put_events(Entries=[{"EventBusName": "b", "Source": "s", "DetailType": "d",
                                "Detail": json.dumps({"i": i})} for i in range(3)])

    cloud.idle()
    assert len(worker.calls_to("fn")) == 3
    assert not together.broken


def test_an_archive_keeps_every_matching_event(cloud: Cloud) -> None:
    account = cloud.new_account()
    bus_arn = cloud.bus(account, "b")
    events = cloud.client(account, "events")
    events.create_archive(ArchiveName="keep", EventSourceArn=bus_arn)

    put(events, "b")
    put(events, "b")

    cloud.idle()
    assert events.describe_archive(ArchiveName="keep")["EventCount"] == 2


def test_input_and_input_path_replace_what_the_target_receives(cloud: Cloud) -> None:
    account = cloud.new_account()
    cloud.bus(account, "b")
    arn = rule_arn(account, "b", "shaped")
    const_url, const_arn = cloud.queue(account, "const", allow_rule=arn)
    path_url, path_arn = cloud.queue(account, "path", allow_rule=arn)
    cloud.rule(account, "b", "shaped", [
        {"Id": "const", "Arn": const_arn, "Input": '{"fixed":true}'},
        {"Id": "path", "Arn": path_arn, "InputPath": "$.detail"}])

    put(cloud.client(account, "events"), "b", detail={"order": 7})

    cloud.idle()
    assert [m["Body"] for m in cloud.messages(account, const_url)] == ['{"fixed":true}']
    assert [json.loads(m["Body"]) for m in cloud.messages(account, path_url)] == [{"order": 7}]
