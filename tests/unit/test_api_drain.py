"""The local order API front drains as a load balancer drains a target: a request in
flight is answered, a new one gets 503 with Retry-After and a closed connection."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator

import pytest
from chalice import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer

from infra_bootstrap.local.api_drain import RETRY_AFTER_S, ApiDrain, draining_handler
from infra_bootstrap.local.api_requests import handler_class


@pytest.fixture
def served() -> Iterator[tuple[int, ApiDrain, threading.Event, threading.Event]]:
    """A Chalice app whose /slow route waits for ``release``; ``entered`` once it runs."""
    app = Chalice(app_name="slow")
    drain = ApiDrain()
    entered, release = threading.Event(), threading.Event()

    @app.route("/slow")
    def slow() -> dict[str, str]:
        entered.set()
        release.wait(30)
        return {"answered": "yes"}

    server = LocalDevServer(app, Config(), "127.0.0.1", 0, handler_cls=draining_handler(
        handler_class(ChaliceRequestHandler), drain))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server.server_address[1], drain, entered, release
    release.set()
    server.shutdown()


def _get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_a_request_in_flight_is_answered_and_a_new_one_gets_503(
        served: tuple[int, ApiDrain, threading.Event, threading.Event]) -> None:
    port, drain, entered, release = served
    in_flight: list[tuple[int, dict[str, str], bytes]] = []
    thread = threading.Thread(target=lambda: in_flight.append(_get(port, "/slow")))
    thread.start()
    assert entered.wait(30)

    drain.start()
    status, headers, body = _get(port, "/slow")
    assert not drain.wait_idle(0)   # the first request is still running
    release.set()
    thread.join(30)

    assert (status, headers["Retry-After"], headers["Connection"]) == (
        503, str(RETRY_AFTER_S), "close")
    assert json.loads(body) == {"message": "Service Unavailable"}
    assert in_flight[0][0] == 200 and json.loads(in_flight[0][2]) == {"answered": "yes"}
    assert drain.wait_idle(30)
