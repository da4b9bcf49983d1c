"""The pieces of `local up`, in process: output lines, the API worker's spec and
environment, the local deploy against moto with real deployment packages, the port
check, and what a failed startup leaves behind. Fast; the only local cloud started is the one
whose startup fails."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra_bootstrap.errors import AwsCallError
from infra_bootstrap.local import deploy as local_deploy
from infra_bootstrap.local import up as local_up
from infra_bootstrap.local import worker
from infra_bootstrap.local.deploy import LocalFunction
from infra_bootstrap.local.handoff import WorkerSpec
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import load_stage

REPO_ROOT = Path(__file__).resolve().parents[2]

ORDER_FUNCTION = LocalFunction(
    service="order-service", subscription="on_delivery_updated",
    function_name="order-service-local-on_delivery_updated",
    arn="arn:aws:lambda:eu-west-1:222222222222:function:order-service-local-on_delivery_updated")


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


def test_the_api_worker_spec_is_the_services_stage() -> None:
    stage = local_deploy.with_delivery_delay(load_stage("local"), 2.5)
    service = local_deploy.load_service(stage, "order-service")

    spec = local_deploy.worker_spec(stage, service, endpoint="http://127.0.0.1:1",
                                    credentials={"AWS_ACCESS_KEY_ID": "k"}, api_port=0)

    assert spec.environment["TABLE_NAME"] == "order-service-state"
    assert (spec.service, spec.stage, spec.region, spec.api.port) == (
        "order-service", "local", "eu-west-1", 0)
    assert spec.app_dir == str(REPO_ROOT / "order_service")
    assert WorkerSpec.from_json(spec.to_json()) == spec


def test_the_deployment_package_is_laid_out_as_chalice_packages_it() -> None:
    files = dict(local_deploy.package_files(REPO_ROOT / "delivery_service"))

    assert files["app.py"] == REPO_ROOT / "delivery_service" / "app.py"
    shipped = {f"backbone/{p.relative_to(REPO_ROOT / 'backbone').as_posix()}"
               for p in (REPO_ROOT / "backbone").rglob("*")
               if p.is_file() and p.suffix in {".py", ".json"} and "__pycache__" not in p.parts}
    assert shipped <= set(files)
    assert not [name for name in files if name.startswith("vendor/") or ".pyc" in name]
    with zipfile.ZipFile(io.BytesIO(local_deploy.deployment_package(
            REPO_ROOT / "delivery_service"))) as archive:
        assert sorted(archive.namelist()) == sorted(files)


def test_the_worker_needs_nothing_but_its_spec() -> None:
    # One way from `local up` to a running function: the worker module loads neither the
    # topology nor anything that derives configuration from it.
    code = ("import json, sys, infra_bootstrap.local.worker; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('infra_bootstrap'))))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True,
                            capture_output=True, text=True, timeout=60).stdout

    # api_requests: how the order API front reads request bodies; api_drain: how it stops
    # (both pure, no configuration).
    assert json.loads(loaded) == [
        "infra_bootstrap", "infra_bootstrap.local", "infra_bootstrap.local.api_drain",
        "infra_bootstrap.local.api_requests", "infra_bootstrap.local.handoff",
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
    delivery = ("arn:aws:lambda:eu-west-1:333333333333:function:"
                "delivery-service-local-on_order_created")
    lam = sessions.client("333333333333", "lambda")
    arns = local_deploy.deploy(stage, sessions, services)
    updates: list[str] = []
    for account in ("222222222222", "333333333333"):
        sessions.client(account, "lambda").meta.events.register(
            "before-call.lambda.*", lambda model, **_: updates.append(model.name))
    again = local_deploy.deploy(stage, sessions, services)

    assert arns == again == {"order-service": {"on_delivery_updated": ORDER_FUNCTION.arn},
                             "delivery-service": {"on_order_created": delivery}}
    # The second deploy of the same sources changed nothing (a restart with --state-dir).
    assert [call for call in updates if call.startswith("Update")] == []
    assert "GetFunction" in updates
    config = lam.get_function_configuration(FunctionName=delivery)
    assert config["Role"] == "arn:aws:iam::333333333333:role/delivery-service-local"
    [function] = services[1].functions
    limits = local_deploy.function_limits(services[1].config, "local", function.subscription)
    assert (config["FunctionArn"], config["Handler"]) == (function.arn, function.handler)
    assert (config["Timeout"], config["MemorySize"]) == (limits.timeout_seconds,
                                                         limits.memory_mb)
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(
        local_deploy.deployment_package(services[1].project_dir)).digest()).decode()
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

    assert [w.service for w in started] == ["order-service"]
    assert all(w.process.returncode is not None for w in started)
    assert out.getvalue() == ""
    [kept] = tmp_path.glob("backbone-local-*")
    assert err.getvalue() == f"service logs kept in {kept}\n"
    # The endpoint's own log (requests, tracebacks) is kept with the API worker's log.
    assert sorted(p.name for p in kept.iterdir()) == ["endpoint.log", "order-service.log"]
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_a_worker_given_another_services_spec_exits_with_one_line(tmp_path: Path) -> None:
    stage = load_stage("local")
    spec = local_deploy.worker_spec(stage, local_deploy.load_service(stage, "order-service"),
                                    endpoint="http://127.0.0.1:9", credentials={},
                                    api_port=0)
    started = local_up.start_worker("delivery-service", spec.endpoint, tmp_path)
    started.hand_over(spec)

    with pytest.raises(local_up.StartupError) as error:
        local_up.wait_ready([started], timeout=local_up.WORKER_READY_SECONDS)
    local_up.stop_workers([started])

    assert started.process.returncode == 2
    assert str(error.value).startswith("worker delivery-service exited with code 2 before it "
                                       "was ready: error: the spec on stdin is for "
                                       "order-service, not delivery-service (log: ")
