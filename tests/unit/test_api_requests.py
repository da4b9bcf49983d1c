"""The local order API front reads bodies as API Gateway does: chunked bodies honoured,
short or malformed ones a 400 (never a hung thread), oversized ones a 413."""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
from collections.abc import Iterator

import pytest
from chalice import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer

from infra_bootstrap.local.api_requests import BodyError, handler_class, read_body


@pytest.mark.parametrize(("headers", "data", "body"), [
    ({"Transfer-Encoding": "chunked"}, b"3\r\n{\"a\r\n4;ext=1\r\n\":1}\r\n0\r\nX-T: 1\r\n\r\n",
     b'{"a":1}'),
    ({"Content-Length": "2"}, b"{}", b"{}"),
    ({}, b"", None),
])
def test_bodies_are_read_whole(headers: dict[str, str], data: bytes, body: bytes | None) -> None:
    assert read_body(headers, io.BytesIO(data)) == body


@pytest.mark.parametrize(("headers", "data", "status"), [
    ({"Transfer-Encoding": "gzip"}, b"", 411),
    ({"Transfer-Encoding": "chunked"}, b"zz\r\n", 400),
    ({"Transfer-Encoding": "chunked"}, b"10\r\nshort", 400),
    ({"Transfer-Encoding": "chunked"}, b"5", 400),
    ({"Content-Length": "-1"}, b"", 400),
    ({"Content-Length": "9"}, b"{}", 400),
    ({"Content-Length": str(11 * 1024 * 1024)}, b"", 413),
])
def test_unreadable_bodies_are_typed_errors(headers: dict[str, str], data: bytes,
                                            status: int) -> None:
    with pytest.raises(BodyError) as raised:
        read_body(headers, io.BytesIO(data))
    assert raised.value.status == status


@pytest.fixture
def echo_port() -> Iterator[int]:
    app = Chalice(app_name="echo")

    @app.route("/echo", methods=["POST"], content_types=["application/json"])
    def echo() -> dict[str, object]:
        return {"body": app.current_request.json_body}

    server = LocalDevServer(app, Config(), "127.0.0.1", 0,
                            handler_cls=handler_class(ChaliceRequestHandler, timeout_s=0.5))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server.server_address[1]
    server.shutdown()


def test_a_chunked_post_reaches_the_app_with_its_body(echo_port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", echo_port, timeout=10)
    connection.request("POST", "/echo", body=iter([b'{"customer', b'Id": "c-1"}']),
                       headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = connection.getresponse()

    assert response.status == 200
    assert json.loads(response.read()) == {"body": {"customerId": "c-1"}}


def test_a_body_shorter_than_its_content_length_is_a_400_not_a_hang(echo_port: int) -> None:
    with socket.create_connection(("127.0.0.1", echo_port), timeout=10) as client:
        client.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 100\r\n\r\n{\"short\": 1}")
        answer = client.makefile("rb").read()

    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(payload)["Code"] == "BadRequest"
