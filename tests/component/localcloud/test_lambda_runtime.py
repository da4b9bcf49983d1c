"""The Lambda runtime through the endpoint, as a boto3 user meets it: CreateFunction with
a zip, then Invoke (RequestResponse, Event, DryRun), with the function's environment,
context, execution role, logs, timeout and crash behaving as on Lambda."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from dataplane_support import LAMBDA_TRUST, REGION, Cloud

from localcloud.runtime.process import WorkerProcess
from tests.polling import wait_until

CODE = '''
import json, os, time
import boto3

STARTED = time.time()

def echo(event, context):
    return {"event": event,
            "context": {"function_name": context.function_name,
                        "function_version": context.function_version,
                        "invoked_function_arn": context.invoked_function_arn,
                        "memory_limit_in_mb": context.memory_limit_in_mb,
                        "aws_request_id": context.aws_request_id,
                        "log_group_name": context.log_group_name,
                        "log_stream_name": context.log_stream_name,
                        "remaining_ms": context.get_remaining_time_in_millis()},
            "env": {k: os.environ.get(k) for k in (
                "TABLE_NAME", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_ENDPOINT_URL", "LAMBDA_TASK_ROOT",
                "_HANDLER", "AWS_PROFILE")},
            "cwd": os.getcwd()}

def whoami(event, context):
    return boto3.client("sts").get_caller_identity()["Arn"]

def fail(event, context):
    raise ValueError("boom: " + str(event.get("why")))

def talk(event, context):
    print("hello from the function")
    return "said"

def once(event, context):
    """Misbehaves the first time it sees a marker path, then succeeds."""
    marker = event["marker"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        if event["how"] == "die":
            os.kill(os.getpid(), 9)
        time.sleep(30)
    return {"pid": os.getpid(), "started": STARTED}
'''


def code_zip(extra: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("handlers.py", CODE)
        for name, text in (extra or {}).items():
            archive.writestr(name, text)
    return buffer.getvalue()


def create(cloud: Cloud, account: str, name: str, handler: str, *, timeout: int = 10,
           memory: int = 256, env: dict[str, str] | None = None) -> str:
    iam = cloud.client(account, "iam")
    try:
        role = iam.create_role(RoleName="runtime-role",
                               AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="runtime-role")["Role"]
    return str(cloud.client(account, "lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=role["Arn"],
        Handler=f"handlers.{handler}", Timeout=timeout, MemorySize=memory,
        Environment={"Variables": env or {}}, Code={"ZipFile": code_zip()})["FunctionArn"])


def invoke(cloud: Cloud, account: str, name: str, event: Any, **kwargs: Any
           ) -> tuple[dict[str, Any], Any]:
    response = cloud.client(account, "lambda").invoke(
        FunctionName=name, Payload=json.dumps(event).encode(), **kwargs)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


@pytest.fixture
def account(cloud: Cloud) -> str:
    return cloud.new_account()


def test_a_function_runs_from_its_zip_with_its_environment_and_context(
        cloud: Cloud, account: str) -> None:
    arn = create(cloud, account, "echo", "echo", memory=256, env={"TABLE_NAME": "orders"})

    response, result = invoke(cloud, account, "echo", {"hello": "world"})

    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert result["event"] == {"hello": "world"}
    context = result["context"]
    assert context["function_name"] == "echo"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == arn
    assert context["memory_limit_in_mb"] == 256
    assert context["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert context["log_group_name"] == "/aws/lambda/echo"
    assert context["log_stream_name"].endswith(context["log_stream_name"][-32:])
    assert "[$LATEST]" in context["log_stream_name"]
    assert 8000 < context["remaining_ms"] <= 10000
    env = result["env"]
    assert env["TABLE_NAME"] == "orders"
    assert env["AWS_REGION"] == REGION
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_ENDPOINT_URL"] == cloud.endpoint.url
    assert env["_HANDLER"] == "handlers.echo"
    assert env["AWS_PROFILE"] is None          # nothing of the machine's AWS setup leaks in
    assert result["cwd"] == env["LAMBDA_TASK_ROOT"]
    assert (Path(env["LAMBDA_TASK_ROOT"]) / "handlers.py").read_text() == CODE


def test_the_function_calls_aws_as_its_execution_role(cloud: Cloud, account: str) -> None:
    create(cloud, account, "whoami", "whoami")

    _, caller = invoke(cloud, account, "whoami", {})

    assert caller == f"arn:aws:sts::{account}:assumed-role/runtime-role/whoami"


def test_a_raised_exception_is_a_function_error_in_lambdas_shape(
        cloud: Cloud, account: str) -> None:
    create(cloud, account, "fail", "fail")

    response, error = invoke(cloud, account, "fail", {"why": "testing"})

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom: testing"
    assert any("raise ValueError" in line for line in error["stackTrace"])


def test_output_goes_to_the_functions_log_group_between_start_end_and_report(
        cloud: Cloud, account: str) -> None:
    create(cloud, account, "talk", "talk")

    response, _ = invoke(cloud, account, "talk", {}, LogType="Tail")

    request_id = response["ResponseMetadata"]["RequestId"]
    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {request_id} Version: $LATEST" in tail
    assert "hello from the function" in tail
    logged = cloud.log_messages(account, "/aws/lambda/talk")
    start = logged.index(f"START RequestId: {request_id} Version: $LATEST")
    assert logged[start + 1] == "hello from the function"
    assert logged[start + 2] == f"END RequestId: {request_id}"
    report = logged[start + 3]
    assert report.startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert "\tMemory Size: 256 MB\tMax Memory Used: " in report
    assert "\tInit Duration: " in report               # the first call was a cold start


def test_a_warm_worker_is_reused(cloud: Cloud, account: str) -> None:
    create(cloud, account, "warm", "once")
    marker = f"/tmp/never-{uuid.uuid4().hex}"
    Path(marker).touch()

    _, first = invoke(cloud, account, "warm", {"marker": marker, "how": "none"})
    _, second = invoke(cloud, account, "warm", {"marker": marker, "how": "none"})

    assert first == second                     # same process, same module import


def test_dry_run_and_unknown_functions_answer_as_lambda(cloud: Cloud, account: str) -> None:
    create(cloud, account, "dry", "echo")
    lam = cloud.client(account, "lambda")

    assert lam.invoke(FunctionName="dry", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="nothing-here", Payload=b"{}")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="dry", Payload=b"{not json")


def test_another_account_needs_the_functions_resource_policy(cloud: Cloud, account: str) -> None:
    arn = create(cloud, account, "guarded", "echo")
    other = cloud.new_account()
    lam = cloud.client(other, "lambda")

    with pytest.raises(lam.exceptions.ClientError) as refused:
        lam.invoke(FunctionName=arn, Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"

    cloud.client(account, "lambda").add_permission(
        FunctionName="guarded", StatementId="other", Action="lambda:InvokeFunction",
        Principal=other)
    assert lam.invoke(FunctionName=arn, Payload=b"{}")["StatusCode"] == 200


def test_a_timed_out_invocation_is_stopped_and_reported(cloud: Cloud, account: str,
                                                         tmp_path: Path) -> None:
    create(cloud, account, "slow", "once", timeout=1)
    started = time.monotonic()

    response, error = invoke(cloud, account, "slow",
                             {"marker": str(tmp_path / "m"), "how": "sleep"}, LogType="Tail")

    assert time.monotonic() - started < 20           # not the 30 s the handler sleeps
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "Task timed out after 1.00 seconds" in base64.b64decode(response["LogResult"]).decode()
    # The next call gets a fresh worker and succeeds.
    response, result = invoke(cloud, account, "slow", {"marker": str(tmp_path / "m"),
                                                       "how": "sleep"})
    assert "FunctionError" not in response and "pid" in result


def test_a_killed_worker_is_an_exit_error_and_is_replaced(cloud: Cloud, account: str,
                                                          tmp_path: Path) -> None:
    create(cloud, account, "crashy", "once")

    response, error = invoke(cloud, account, "crashy", {"marker": str(tmp_path / "m"),
                                                        "how": "die"})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Runtime exited with error: signal: killed")
    response, result = invoke(cloud, account, "crashy", {"marker": str(tmp_path / "m"),
                                                         "how": "die"})
    assert "FunctionError" not in response and "pid" in result
    assert cloud.endpoint.runtime is not None and cloud.endpoint.runtime.workers_lost >= 1


def test_a_worker_killed_while_idle_is_replaced_before_the_next_invocation(
        cloud: Cloud, account: str) -> None:
    create(cloud, account, "idle-victim", "talk")
    assert invoke(cloud, account, "idle-victim", {})[1] == "said"   # a worker now idles
    runtime = cloud.endpoint.runtime
    assert runtime is not None
    lost_before, lines = runtime.workers_lost, []
    runtime.on_worker_lost, notice = lines.append, runtime.on_worker_lost
    idle = [pid for pid in _bootstrap_pids() if _runs(pid, "idle-victim")]
    assert idle
    for pid in idle:
        os.kill(pid, signal.SIGKILL)
    for pid in idle:  # SIGKILL is asynchronous: wait until each one has exited
        wait_until(lambda pid=pid: _exited(pid), 30, f"worker {pid} to exit")
    try:
        response, result = invoke(cloud, account, "idle-victim", {})
    finally:
        runtime.on_worker_lost = notice

    assert "FunctionError" not in response and result == "said"
    assert runtime.workers_lost == lost_before + len(idle)
    assert any("exited while idle" in line and line.endswith("; replaced") for line in lines)


def _bootstrap_pids() -> list[int]:
    """This process's children that run the Lambda runtime's bootstrap (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"bootstrap.py" in argv:
            found.append(int(entry.name))
    return found


def _exited(pid: int) -> bool:
    """Has process ``pid`` exited (a zombie not yet reaped, or gone)? Linux /proc."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _runs(pid: int, function: str) -> bool:
    """Does worker ``pid`` run ``function`` (its AWS_LAMBDA_FUNCTION_NAME)?"""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"AWS_LAMBDA_FUNCTION_NAME={function}".encode() in environ


def _records(cloud: Cloud, account: str, name: str, handler: str) -> str:
    """A function whose invocation records go to a queue; the queue's URL."""
    create(cloud, account, name, handler, timeout=1)
    url, queue_arn = cloud.queue(account, f"{name}-records")
    cloud.client(account, "lambda").put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=2, DestinationConfig={
            "OnSuccess": {"Destination": queue_arn}, "OnFailure": {"Destination": queue_arn}})
    return url


def _one_record(cloud: Cloud, account: str, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        messages = cloud.messages(account, url)
        if messages:
            assert len(messages) == 1
            return dict(json.loads(messages[0]["Body"]))
        time.sleep(0.2)
    raise AssertionError("no invocation record arrived")


@pytest.mark.parametrize("how", ["die", "sleep"])
def test_an_event_invocation_is_retried_after_a_crash_or_timeout(
        cloud: Cloud, account: str, tmp_path: Path, how: str) -> None:
    url = _records(cloud, account, f"async-{how}", "once")

    response = cloud.client(account, "lambda").invoke(
        FunctionName=f"async-{how}", InvocationType="Event",
        Payload=json.dumps({"marker": str(tmp_path / "m"), "how": how}).encode())

    assert response["StatusCode"] == 202
    record = _one_record(cloud, account, url)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == {"marker": str(tmp_path / "m"), "how": how}


def test_an_event_invocation_that_keeps_failing_reaches_on_failure(
        cloud: Cloud, account: str) -> None:
    url = _records(cloud, account, "async-fail", "fail")

    cloud.client(account, "lambda").invoke(FunctionName="async-fail", InvocationType="Event",
                                           Payload=b'{"why": "always"}')

    record = _one_record(cloud, account, url)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorMessage"] == "boom: always"


def test_an_updated_function_runs_its_new_code(cloud: Cloud, account: str) -> None:
    create(cloud, account, "evolving", "talk")
    assert invoke(cloud, account, "evolving", {})[1] == "said"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers.py", "def talk(event, context):\n    return 'new'\n")

    cloud.client(account, "lambda").update_function_code(FunctionName="evolving",
                                                         ZipFile=buffer.getvalue())

    assert invoke(cloud, account, "evolving", {})[1] == "new"


def test_the_execution_role_is_assumed_for_this_function_only_as_its_trust_says(
        cloud: Cloud, account: str) -> None:
    # Lambda assumes the role with aws:SourceArn / aws:SourceAccount of the function, so a
    # trust policy may confine the role to one function (Lambda Developer Guide,
    # "Lambda execution role"; the same check STS makes, localcloud.trust).
    iam, functions = cloud.client(account, "iam"), cloud.client(account, "lambda")
    only_for = f"arn:aws:lambda:{REGION}:{account}:function:allowed"
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole", "Condition": {
            "ArnLike": {"aws:SourceArn": only_for},
            "StringEquals": {"aws:SourceAccount": account}}}]}
    role = iam.create_role(RoleName="confined", AssumeRolePolicyDocument=json.dumps(trust)
                           )["Role"]["Arn"]
    for name in ("allowed", "other"):
        functions.create_function(FunctionName=name, Runtime="python3.11", Role=role,
                                  Handler="handlers.whoami", Code={"ZipFile": code_zip()})

    _, allowed = invoke(cloud, account, "allowed", {})
    refused, error = invoke(cloud, account, "other", {})

    assert allowed == f"arn:aws:sts::{account}:assumed-role/confined/allowed"
    assert refused["FunctionError"] == "Unhandled"
    assert error["errorType"] == "RoleNotAssumable"


def _worker(tmp_path: Path, handler: str) -> WorkerProcess:
    """One worker process of ``handlers.<handler>``, started without a cloud."""
    (tmp_path / "handlers.py").write_text(CODE)
    environment = {**os.environ, "_HANDLER": f"handlers.{handler}",
                   "LAMBDA_TASK_ROOT": str(tmp_path)}
    return WorkerProcess.start(task_root=tmp_path, environment=environment,
                               log_stream="stream", ready_timeout_s=60)


def test_a_worker_that_dies_before_taking_an_invocation_says_it_never_ran_it(
        tmp_path: Path) -> None:
    # Popen.poll cannot see a killed multi-threaded worker until its last thread is gone,
    # so the runtime may hand an invocation to a worker that is already dying; the
    # worker's "started" line tells a run that never began from one that crashed.
    worker = _worker(tmp_path, "talk")
    os.kill(worker.pid, signal.SIGKILL)
    worker.process.wait(timeout=30)

    reply = worker.invoke(request_id="r-1", function_arn="arn", payload="{}", timeout_s=5)

    assert reply.worker_lost and reply.never_started and reply.error is not None
    assert reply.error["errorType"] == "Runtime.ExitError"


def test_a_worker_that_dies_while_running_an_invocation_did_start_it(tmp_path: Path) -> None:
    worker = _worker(tmp_path, "once")
    try:
        reply = worker.invoke(request_id="r-1", function_arn="arn", timeout_s=30,
                              payload=json.dumps({"marker": str(tmp_path / "m"), "how": "die"}))
    finally:
        worker.kill()

    assert reply.worker_lost and not reply.never_started
    assert reply.error is not None and reply.error["errorType"] == "Runtime.ExitError"
