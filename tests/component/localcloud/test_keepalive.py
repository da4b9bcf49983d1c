"""The endpoint keeps HTTP/1.1 connections open: many AWS calls on one TCP connection,
each answered with its Content-Length, a body the app never read not mistaken for the
next request, and a connection still open when the endpoint stops ended with it."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any

import pytest
from dataplane_support import Cloud
from werkzeug.serving import make_server

from localcloud.endpoint import Endpoint
from localcloud.keepalive import KeepAliveRequestHandler


def _connection(endpoint: Endpoint) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)


def _local_sock(connection: http.client.HTTPConnection) -> tuple[str, int]:
    assert connection.sock is not None
    return connection.sock.getsockname()  # type: ignore[no-any-return]


def test_boto3_calls_share_one_connection(cloud: Cloud,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sts = cloud.client(cloud.new_account(), "sts")
    sts.get_caller_identity()
    server = cloud.endpoint._server
    accepted: list[object] = []
    process_request = server.process_request

    def counted(request: object, client_address: object) -> None:
        accepted.append(client_address)
        process_request(request, client_address)

    monkeypatch.setattr(server, "process_request", counted)

    for _ in range(5):
        sts.get_caller_identity()

    assert accepted == []  # no new TCP connection: the first one served them all


def test_an_unread_body_does_not_become_the_next_request(endpoint: Endpoint) -> None:
    connection = _connection(endpoint)
    body = json.dumps({"padding": "x" * 5000})
    # Refused before anything reads the body: no control secret.
    connection.request("POST", "/_local/lambda-routes", body=body,
                       headers={"Content-Type": "application/json"})
    first = connection.getresponse()
    first_body = first.read()
    where = _local_sock(connection)

    connection.request("GET", "/_local/stats")
    second = connection.getresponse()
    second_body = json.loads(second.read())

    assert first.status == 403 and b"X-Localcloud-Secret" in first_body
    assert first.getheader("Content-Length") == str(len(first_body))
    assert second.status == 403 and "X-Localcloud-Secret" in second_body["message"]
    assert _local_sock(connection) == where  # the same connection answered both
    connection.close()


def test_a_client_that_says_close_gets_its_connection_closed(endpoint: Endpoint) -> None:
    connection = _connection(endpoint)
    connection.request("GET", "/_local/stats", headers={"Connection": "close"})
    answer = connection.getresponse()
    answer.read()

    assert answer.getheader("Connection") == "close"
    assert answer.will_close


def test_a_chunked_request_is_answered_and_its_connection_closed(endpoint: Endpoint) -> None:
    connection = _connection(endpoint)
    connection.request("POST", "/_local/lambda-routes", body=iter([b'{"a":', b" 1}"]),
                       headers={"Content-Type": "application/json"}, encode_chunked=True)
    answer = connection.getresponse()
    answer.read()

    assert answer.status == 403
    assert answer.will_close


def test_stopping_the_endpoint_ends_its_open_connections() -> None:
    with Endpoint(port=0) as running:
        connection = _connection(running)
        connection.request("GET", "/_local/stats")
        connection.getresponse().read()
        assert connection.sock is not None
        raw: socket.socket = connection.sock

    raw.settimeout(5)
    with pytest.raises(OSError):
        raw.sendall(b"GET /_local/stats HTTP/1.1\r\nHost: x\r\n\r\n")
        if raw.recv(1) == b"":  # closed by the endpoint: no answer
            raise ConnectionResetError("closed")


def test_a_response_whose_length_is_not_its_body_s_closes_the_connection() -> None:
    def wrong_length(environ: dict[str, object], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "2")])
        return [b"four"]

    server = make_server("127.0.0.1", 0, wrong_length, threaded=True,
                         request_handler=KeepAliveRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        connection.request("GET", "/")
        answer = connection.getresponse()
        assert answer.read() == b"fo"
        assert answer.will_close
    finally:
        server.shutdown()
        server.server_close()
