"""The pieces of `local up`, in process: output lines, the worker's Lambda wire shape and
context, the environments of the workers, the local deploy against moto, the port check,
and what a failed startup leaves behind. Fast; the only local cloud started is the one
whose startup fails."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra_bootstrap import configure
from infra_bootstrap.errors import AwsCallError
from infra_bootstrap.local import deploy as local_deploy
from infra_bootstrap.local import up as local_up
from infra_bootstrap.local import worker
from infra_bootstrap.local.deploy import LocalFunction
from infra_bootstrap.local.handoff import FunctionSpec, WorkerSpec
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import load_stage

REPO_ROOT = Path(__file__).resolve().parents[2]

ORDER_FUNCTION = LocalFunction(
    service="order-service", subscription="on_delivery_updated",
    function_name="order-service-local-on_delivery_updated",
    arn="arn:aws:lambda:eu-west-1:222222222222:function:order-service-local-on_delivery_updated")


def served(function: LocalFunction, *, timeout_seconds: int, memory_mb: int) -> FunctionSpec:
    return FunctionSpec(function.function_name, function.arn, function.handler,
                        timeout_seconds, memory_mb, f"/aws/lambda/{function.function_name}")


def test_ready_and_accounts_lines() -> None:
    assert local_up.ready_line(8000, 4566) == (
        "ready: api=http://127.0.0.1:8000 aws=http://127.0.0.1:4566")
    assert local_up.accounts_line(load_stage("local")) == (
        "accounts: bus=111111111111 order-service=222222222222 delivery-service=333333333333")


def test_event_line_and_timeline_name_bus_account_type_and_time() -> None:
    event = {"detail-type": "Delivery.Updated", "source": "delivery-service",
             "account": "333333333333", "id": "e-1",
             "detail": {"data": {}, "meta": {"correlationId": "c-1"}}}
    logged = local_up.LoggedEvent("global-bus", "111111111111", event, 1_700_000_000_123,
                                  "log-1", json.dumps(event))

    assert local_up.event_line(logged) == (
        "22:13:20.123 global-bus Delivery.Updated from delivery-service (333333333333) "
        "id=e-1 correlation=c-1")
    heading, hop = local_up.timeline([logged], since_ms=1_700_000_000_000)
    assert heading == ("Delivery.Updated e-1 from delivery-service (333333333333) "
                       "correlation=c-1")
    assert hop.split() == ["+123", "ms", "global-bus", "111111111111"]


def test_delivery_delay_overrides_the_services_that_read_it() -> None:
    stage = local_deploy.with_delivery_delay(load_stage("local"), 0.5)

    assert stage.service("delivery-service").environment["DELIVERY_DELAY_SECONDS"] == "0.5"
    assert "DELIVERY_DELAY_SECONDS" not in stage.service("order-service").environment
    assert local_up.max_delay(stage) == 0.5
    assert local_deploy.with_delivery_delay(stage, None) is stage


def test_functions_are_named_and_grouped_as_chalice_deploy_names_them() -> None:
    functions = local_deploy.local_functions(load_stage("local"), "order-service",
                                             "order-service", ["on_delivery_updated"])

    assert functions == (ORDER_FUNCTION,)
    assert local_deploy.function_arns(functions) == {
        "order-service": {"on_delivery_updated": ORDER_FUNCTION.arn}}


def test_invoke_paths_name_the_function() -> None:
    path = "/2015-03-31/functions/order-service-local-on_delivery_updated/invocations"
    assert worker.function_name_of(path) == "order-service-local-on_delivery_updated"
    assert worker.function_name_of(
        f"/2015-03-31/functions/{ORDER_FUNCTION.arn}/invocations?Qualifier=x"
    ) == ORDER_FUNCTION.function_name
    assert worker.function_name_of("/orders") is None


@pytest.fixture
def invoke_url() -> Iterator[str]:
    """The worker's invoke server with one function that echoes or raises."""
    def handler(event: Any, context: Any) -> Any:
        if event.get("fail"):
            raise ValueError(f"refused {event['fail']}")
        return {"echo": event, "function": context.function_name,
                "request_id": context.aws_request_id,
                "arn": context.invoked_function_arn,
                "memory": context.memory_limit_in_mb,
                "remaining_ms": context.get_remaining_time_in_millis(),
                "log": [context.log_group_name, context.log_stream_name]}

    registered = {ORDER_FUNCTION.function_name: worker.Registered(
        served(ORDER_FUNCTION, timeout_seconds=30, memory_mb=256), handler,
        "2030/01/01/[$LATEST]0123abcd")}
    server = worker.InvokeServer(("127.0.0.1", 0), worker.invoke_handler_class(registered))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _invoke(url: str, name: str, event: Any) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(f"{url}/2015-03-31/functions/{name}/invocations",
                                     data=json.dumps(event).encode(), method="POST",
                                     headers={"X-Amzn-RequestId": "req-1"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_the_worker_answers_invoke_as_lambda_does(invoke_url: str) -> None:
    status, headers, body = _invoke(invoke_url, ORDER_FUNCTION.function_name, {"id": "e-1"})

    assert status == 200
    assert "X-Amz-Function-Error" not in headers
    assert headers["X-Amzn-RequestId"] == "req-1"
    remaining_ms = body.pop("remaining_ms")
    assert body == {"echo": {"id": "e-1"}, "function": ORDER_FUNCTION.function_name,
                    "request_id": "req-1", "arn": ORDER_FUNCTION.arn, "memory": 256,
                    "log": ["/aws/lambda/order-service-local-on_delivery_updated",
                            "2030/01/01/[$LATEST]0123abcd"]}
    # The clock starts when the invocation arrives, at the function's 30 s timeout.
    assert 25_000 < remaining_ms <= 30_000


def test_the_remaining_time_counts_down_to_zero_from_the_timeout() -> None:
    registered = worker.Registered(served(ORDER_FUNCTION, timeout_seconds=0, memory_mb=128),
                                   print, "s")

    assert worker.LambdaContext(registered, "r").get_remaining_time_in_millis() == 0


def test_the_worker_spec_is_what_chalice_deploy_gives_each_function() -> None:
    stage = local_deploy.with_delivery_delay(load_stage("local"), 2.5)
    service = local_deploy.load_service(stage, "delivery-service")

    spec = local_deploy.worker_spec(stage, service, endpoint="http://127.0.0.1:1",
                                    credentials={"AWS_ACCESS_KEY_ID": "k"}, api_port=None)

    # The delay plus configure's working time, and Chalice's default memory.
    timeout = configure.lambda_timeout(stage, stage.service("delivery-service"))
    assert timeout == 3 + configure.WORK_SECONDS
    [function] = service.functions
    assert spec.functions == (served(function, timeout_seconds=timeout, memory_mb=128),)
    assert spec.functions[0].handler == "app.on_order_created"
    assert spec.environment["DELIVERY_DELAY_SECONDS"] == "2.5"
    assert spec.environment["TABLE_NAME"] == "delivery-service-state"
    assert (spec.service, spec.stage, spec.region, spec.api) == (
        "delivery-service", "local", "eu-west-1", None)
    assert spec.app_dir == str(REPO_ROOT / "delivery_service")
    assert WorkerSpec.from_json(spec.to_json()) == spec


def test_handlers_are_imported_as_lambda_imports_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    (tmp_path / "handlers_of_this_test.py").write_text(
        "def on_thing(event, context):\n    return {'got': event}\n")
    function = FunctionSpec("f", "arn:aws:lambda:eu-west-1:1:function:f",
                            "handlers_of_this_test.on_thing", 3, 128, "/aws/lambda/f")
    spec = WorkerSpec(service="s", stage="local", region="eu-west-1", app_dir=str(tmp_path),
                      endpoint="http://127.0.0.1:1", credentials={}, environment={},
                      functions=(function,), api=None)

    [registered] = worker.registered_functions(spec).values()

    assert registered.function == function
    assert registered.handler({"n": 1}, None) == {"got": {"n": 1}}


def test_the_worker_needs_nothing_but_its_spec() -> None:
    # One way from `local up` to a running function: the worker module loads neither the
    # topology nor anything that derives configuration from it.
    code = ("import json, sys, infra_bootstrap.local.worker; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('infra_bootstrap'))))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True,
                            capture_output=True, text=True, timeout=60).stdout

    assert json.loads(loaded) == [
        "infra_bootstrap", "infra_bootstrap.local", "infra_bootstrap.local.handoff",
        "infra_bootstrap.local.worker"]


def test_handlers_see_no_aws_variable_but_their_accounts() -> None:
    parent = {"PATH": "/usr/bin", "AWS_PROFILE": "prod", "AWS_ACCESS_KEY_ID": "AKIAREAL",
              "AWS_SESSION_TOKEN": "real", "AWS_ROLE_ARN": "arn:aws:iam::9:role/x",
              "AWS_ENDPOINT_URL": "https://elsewhere"}
    account = {"AWS_ACCESS_KEY_ID": "ASIALOCAL", "AWS_SECRET_ACCESS_KEY": "s",
               "AWS_SESSION_TOKEN": "t"}

    to_worker = local_up.worker_environment(parent, "http://127.0.0.1:4566")
    handlers = worker.lambda_environment(
        to_worker, credentials=account, endpoint="http://127.0.0.1:4566",
        region="eu-west-1", variables={"TABLE_NAME": "delivery-service-state"})

    assert to_worker == {"PATH": "/usr/bin", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
                         "PYTHONUNBUFFERED": "1"}
    assert {k: v for k, v in handlers.items() if k.startswith("AWS_")} == {
        **account, "AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1", "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}
    assert handlers["TABLE_NAME"] == "delivery-service-state"
    assert handlers["PATH"] == "/usr/bin"


def test_a_raising_handler_is_a_function_error_not_an_http_error(invoke_url: str) -> None:
    status, headers, body = _invoke(invoke_url, ORDER_FUNCTION.function_name, {"fail": "x"})

    assert status == 200
    assert headers["X-Amz-Function-Error"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "refused x"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]


def test_an_unknown_function_is_resource_not_found(invoke_url: str) -> None:
    status, headers, body = _invoke(invoke_url, "no-such-function", {})

    assert status == 404
    assert headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert "no-such-function" in body["Message"]


def test_a_listening_port_is_reported_by_number_and_option() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(local_up.PortInUse) as error:
            local_up.check_port_free(port, "--api-port")
    assert str(error.value) == f"port {port} on 127.0.0.1 is in use (--api-port)"
    assert error.value.exit_code == 1


def test_local_deploy_creates_role_and_functions_for_subscribe(aws: None) -> None:
    stage = local_deploy.with_delivery_delay(load_stage("local"), 0)
    sessions = AccountSessions(stage)

    services = [local_deploy.load_service(stage, s.name) for s in stage.services]
    arns = local_deploy.deploy(stage, sessions, services)
    again = local_deploy.deploy(stage, sessions, services)

    delivery = ("arn:aws:lambda:eu-west-1:333333333333:function:"
                "delivery-service-local-on_order_created")
    assert arns == again == {"order-service": {"on_delivery_updated": ORDER_FUNCTION.arn},
                             "delivery-service": {"on_order_created": delivery}}
    lam = sessions.client("333333333333", "lambda")
    config = lam.get_function_configuration(FunctionName=delivery)
    assert config["Role"] == "arn:aws:iam::333333333333:role/delivery-service-local"
    # What the worker's context counts down from is what was deployed.
    spec = local_deploy.worker_spec(stage, services[1], endpoint="http://127.0.0.1:1",
                                    credentials={}, api_port=None)
    [function] = spec.functions
    assert (config["FunctionArn"], config["Handler"]) == (function.arn, function.handler)
    assert (config["Timeout"], config["MemorySize"]) == (
        function.timeout_seconds, function.memory_mb)
    assert config["Environment"]["Variables"]["DELIVERY_DELAY_SECONDS"] == "0"
    assert config["Environment"]["Variables"]["TABLE_NAME"] == "delivery-service-state"
    iam = sessions.client("333333333333", "iam")
    trust = iam.get_role(RoleName="delivery-service-local")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    policy = iam.get_role_policy(RoleName="delivery-service-local",
                                 PolicyName="delivery-service-local")["PolicyDocument"]
    assert any("events:PutEvents" in s["Action"] for s in policy["Statement"])
    # What subscribe then does to the function works against it.
    lam.put_function_event_invoke_config(FunctionName=delivery, MaximumRetryAttempts=2)


class _StuckOrderApi(BaseHTTPRequestHandler):
    """An order API whose orders never leave CREATED."""

    order = {"orderId": "0b7f4c5e-0000-4000-8000-000000000001", "status": "CREATED"}

    def do_POST(self) -> None:
        self._json(201, self.order)

    def do_GET(self) -> None:
        self._json(200, self.order)

    def _json(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


def test_the_demo_names_the_step_that_did_not_happen(
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StuckOrderApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cloud = local_up.LocalCloud(local_up.UpOptions(delivery_delay=0), log=lambda _: None)
    cloud.api_port = server.server_address[1]
    monkeypatch.setattr(local_up, "DEMO_MARGIN_SECONDS", 0.3)
    try:
        with pytest.raises(local_up.DemoStepFailed) as failed:
            local_up.demo(cloud, io.StringIO())
    finally:
        server.shutdown()
        server.server_close()

    assert str(failed.value) == (f"step 'order DELIVERED': order {_StuckOrderApi.order['orderId']}"
                                 " still CREATED after 0.3 s")
    assert failed.value.exit_code != 0


def test_port_0_is_always_free() -> None:
    local_up.check_port_free(0, "--aws-port")


def test_a_worker_that_exits_before_ready_is_named_with_its_last_log_line(
        tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    log_path = tmp_path / "order-service.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; print('no table'); sys.exit(3)"],
            stdout=log, stderr=subprocess.STDOUT, pass_fds=(write_fd,))
    os.close(write_fd)
    failed = local_up.Worker("order-service", process, log_path, read_fd)

    with pytest.raises(local_up.StartupError) as error:
        local_up.wait_ready([failed], timeout=20)
    local_up.stop_workers([failed])

    assert str(error.value) == (f"worker order-service exited with code 3 before it was "
                                f"ready: no table (log: {log_path})")


def test_a_failed_startup_step_stops_every_worker_and_keeps_their_logs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[local_up.Worker] = []
    start_worker = local_up.start_worker

    def recorded(*args: Any) -> local_up.Worker:
        started.append(start_worker(*args))
        return started[-1]

    def refused(*args: Any, **kwargs: Any) -> None:
        raise AwsCallError("333333333333", "events:PutRule", "sub-on_order_created", "refused")

    monkeypatch.setattr(local_up, "start_worker", recorded)
    monkeypatch.setattr(local_up, "subscribe", refused)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(AwsCallError):
        local_up.up(local_up.UpOptions(delivery_delay=0, aws_port=0, api_port=0), out, err)

    assert [w.service for w in started] == ["order-service", "delivery-service"]
    assert all(w.process.returncode is not None for w in started)
    assert out.getvalue() == ""
    [kept] = tmp_path.glob("backbone-local-*")
    assert err.getvalue() == f"service logs kept in {kept}\n"
    # The endpoint's own log (requests, tracebacks) is kept with the services' logs.
    assert sorted(p.name for p in kept.iterdir()) == ["delivery-service.log", "endpoint.log",
                                                      "order-service.log"]
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_a_worker_runs_the_functions_of_its_spec(tmp_path: Path) -> None:
    stage = local_deploy.with_delivery_delay(load_stage("local"), 0)
    service = local_deploy.load_service(stage, "delivery-service")
    spec = local_deploy.worker_spec(stage, service, endpoint="http://127.0.0.1:9",
                                    credentials={"AWS_ACCESS_KEY_ID": "k",
                                                 "AWS_SECRET_ACCESS_KEY": "s"},
                                    api_port=None)
    started = local_up.start_worker("delivery-service", spec.endpoint, tmp_path)
    try:
        started.hand_over(spec)
        local_up.wait_ready([started], timeout=local_up.WORKER_READY_SECONDS)

        assert started.info["functions"] == [f.arn for f in spec.functions]
        assert started.info["api_port"] is None
        # The subscription's entry point, as deployed: it checks the event's schema first.
        status, headers, body = _invoke(started.info["invoke"], spec.functions[0].function_name,
                                        {"id": "e-1", "source": "order-service",
                                         "detail-type": "Order.Created", "account": "1",
                                         "detail": {"data": {}, "meta": {}}})
    finally:
        local_up.stop_workers([started])

    assert status == 200
    assert headers["X-Amz-Function-Error"] == "Unhandled"
    assert body["errorType"] == "SchemaViolation"


def test_a_worker_given_another_services_spec_exits_with_one_line(tmp_path: Path) -> None:
    stage = load_stage("local")
    spec = local_deploy.worker_spec(stage, local_deploy.load_service(stage, "order-service"),
                                    endpoint="http://127.0.0.1:9", credentials={},
                                    api_port=None)
    started = local_up.start_worker("delivery-service", spec.endpoint, tmp_path)
    started.hand_over(spec)

    with pytest.raises(local_up.StartupError) as error:
        local_up.wait_ready([started], timeout=local_up.WORKER_READY_SECONDS)
    local_up.stop_workers([started])

    assert started.process.returncode == 2
    assert str(error.value).startswith("worker delivery-service exited with code 2 before it "
                                       "was ready: error: the spec on stdin is for "
                                       "order-service, not delivery-service (log: ")
