"""HTTP/1.1 keep-alive for the endpoint: one TCP connection serves many AWS calls.

werkzeug's development server (3.x) answers every request with ``Connection: close``
(its ``run_wsgi``: "Always close the connection ... [http.server] doesn't know how to
drain the stream before the next request line"), then lingers 10 ms in a ``select``
draining the socket. So every boto3 call from a service or a Lambda worker paid a new
TCP connection and a new server thread (``Thread.start`` alone was 4.5% of the endpoint's
CPU). :class:`KeepAliveRequestHandler` reads exactly the request's ``Content-Length``
bytes before the app runs, so the next request line is always where the stream stands,
and answers with a ``Content-Length`` (the whole response is built first: the endpoint's
responses are small and complete anyway) in one write. A chunked request body, or a
length it cannot parse, goes to werkzeug's own handling, which closes the connection as
before. HTTP/1.1 (RFC 9112, section 9.3) keeps a connection open unless either side says
``Connection: close``; a client that says so gets it.

:func:`end_connections` ends the connections still open when the endpoint stops (a
request in progress is answered first): stopping still means no further request is
served.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Iterable
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.exceptions import InternalServerError

# Responses that never carry a body (RFC 9110, section 6.4.1): no Content-Length added.
_NO_BODY = frozenset({204, 304})


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler, keeping HTTP/1.1 connections open between requests."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        _connections(self.server).add(self.connection)

    def finish(self) -> None:
        _connections(self.server).discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        if getattr(self.server, _STOPPED, False):  # arrived after stop: not served
            self.close_connection = True
            return
        length = _body_length(self.headers.get("Content-Length"),
                              self.headers.get("Transfer-Encoding"))
        if length is None:  # werkzeug's way: it finds the end, then closes the connection
            super().run_wsgi()
            return
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-body
            self.close_connection = True
            return
        self.environ = environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            status, headers, chunks = self._call_app(environ)
        except (ConnectionError, TimeoutError) as error:
            self.connection_dropped(error, environ)
            self.close_connection = True
            return
        self._send(status, headers, b"".join(chunks))

    def _call_app(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]],
                                                          list[bytes]]:
        """Run the app; a crash is werkzeug's 500 page (traceback to the server log)."""
        try:
            return _run(self.server.app, environ)
        except (ConnectionError, TimeoutError):
            raise
        except Exception as error:
            if self.server.passthrough_errors:
                raise
            from werkzeug.debug.tbtools import DebugTraceback

            self.close_connection = True
            self.server.log("error", "Error on request:\n"
                            f"{DebugTraceback(error).render_traceback_text()}")
            return _run(InternalServerError(), environ)

    def _send(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        self.send_response(code, reason)
        for name, value in headers:
            self.send_header(name, value)  # a "Connection: close" of the app is honoured
        head = self.command == "HEAD"
        bodiless = head or code < 200 or code in _NO_BODY
        declared = [value.strip() for name, value in headers if name.lower() == "content-length"]
        if not declared and not bodiless:
            self.send_header("Content-Length", str(len(body)))
        elif declared and not bodiless and declared[-1] != str(len(body)):
            # The app's length is not its body's: the client reads what the header says,
            # and the rest must not be taken for the next response.
            self.close_connection = True
        if self.close_connection and not any(name.lower() == "connection"
                                             for name, _ in headers):
            self.send_header("Connection", "close")
        # Head and body in one write (end_headers would flush the head on its own).
        self._headers_buffer.append(b"\r\n")
        if not bodiless:
            self._headers_buffer.append(body)
        self.flush_headers()


def _run(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]],
                                                      list[bytes]]:
    """Call a WSGI app and collect its whole response."""
    started: list[Any] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Any:
        started[:] = [status, list(headers)]
        return chunks.append

    result: Iterable[bytes] = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return started[0], started[1], chunks


def _body_length(content_length: str | None, transfer_encoding: str | None) -> int | None:
    """How many body bytes follow the request head, or None when only werkzeug can tell.

    >>> _body_length("12", None), _body_length(None, None), _body_length("x", None)
    (12, 0, None)
    >>> _body_length(None, "chunked") is None
    True
    """
    if transfer_encoding:
        return None
    if content_length is None:
        return 0
    text = content_length.strip()
    return int(text) if text.isdigit() else None


_registry_lock = threading.Lock()
# Set on the server by end_connections: its handlers answer nothing more.
_STOPPED = "_keepalive_stopped"


def _connections(server: Any) -> set[socket.socket]:
    """The open connections of ``server`` (a set kept on the server object)."""
    live = getattr(server, "_keepalive_connections", None)
    if live is None:
        with _registry_lock:
            live = getattr(server, "_keepalive_connections", None)
            if live is None:
                live = server._keepalive_connections = set()
    return live


def end_connections(server: Any) -> None:
    """Serve no further request on an open connection: an idle one ends at once, one in
    the middle of a request ends after its response, and a request that still arrives
    (its bytes were already on the way) is not answered."""
    setattr(server, _STOPPED, True)
    for connection in list(_connections(server)):
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RD)
