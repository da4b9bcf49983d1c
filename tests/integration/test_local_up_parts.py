"""The pieces of `local up`, in process: output lines, the worker's Lambda wire shape,
the local deploy against moto, the port check. Fast; no local cloud is started."""

from __future__ import annotations

import io
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from infra_bootstrap.local import deploy as local_deploy
from infra_bootstrap.local import up as local_up
from infra_bootstrap.local import worker
from infra_bootstrap.local.deploy import LocalFunction
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import load_stage

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
    header, row = local_up.timeline([logged], since_ms=1_700_000_000_000)
    assert header.split() == ["bus", "account", "detail-type", "source"]
    assert row.split() == ["+123", "ms", "global-bus", "111111111111", "Delivery.Updated",
                           "from", "delivery-service"]


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
                "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 30_000}

    registered = {ORDER_FUNCTION.function_name: worker._Registered(
        ORDER_FUNCTION, handler, timeout_seconds=30, memory_mb=128)}
    server = worker._InvokeServer(("127.0.0.1", 0), worker._invoke_handler_class(registered))
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
    assert body == {"echo": {"id": "e-1"}, "function": ORDER_FUNCTION.function_name,
                    "request_id": "req-1",
                    "arn": ORDER_FUNCTION.arn, "remaining_ok": True}


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

    arns = local_deploy.deploy(stage, sessions)
    again = local_deploy.deploy(stage, sessions)

    delivery = ("arn:aws:lambda:eu-west-1:333333333333:function:"
                "delivery-service-local-on_order_created")
    assert arns == again == {"order-service": {"on_delivery_updated": ORDER_FUNCTION.arn},
                             "delivery-service": {"on_order_created": delivery}}
    lam = sessions.client("333333333333", "lambda")
    config = lam.get_function_configuration(FunctionName=delivery)
    assert config["Role"] == "arn:aws:iam::333333333333:role/delivery-service-local"
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
    cloud.api_url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(local_up, "DEMO_MARGIN_SECONDS", 0.3)
    try:
        with pytest.raises(local_up.DemoStepFailed) as failed:
            local_up.demo(cloud, io.StringIO())
    finally:
        server.shutdown()
        server.server_close()
        cloud.log_dir.rmdir()

    assert str(failed.value) == (f"step 'order DELIVERED': order {_StuckOrderApi.order['orderId']}"
                                 " still CREATED after 0.3 s")
    assert failed.value.exit_code != 0
