"""The order API front while ``local up`` stops: requests in flight finish, new ones get 503.

On SIGTERM the API worker *drains* (as an Elastic Load Balancer drains a deregistering
target: in-flight requests complete, no new ones are sent; ELB API Reference,
DeregisterTargets). A request that arrives meanwhile is answered as API Gateway answers
when its backend is unavailable: ``503`` with ``{"message": "Service Unavailable"}``,
plus ``Retry-After`` so a client knows it is temporary (RFC 9110, 10.2.3), and the
connection is closed. Once no request is in flight the worker exits.

>>> drain = ApiDrain()
>>> drain.enter(), drain.in_flight
(True, 1)
>>> drain.start(); drain.enter()
False
>>> drain.leave(); drain.wait_idle(1)
True
"""

from __future__ import annotations

import json
import threading
from typing import Any

RETRY_AFTER_S = 5
UNAVAILABLE_BODY = json.dumps({"message": "Service Unavailable"}).encode()


class ApiDrain:
    """Counts the requests in flight; once started, admits no new one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._in_flight = 0
        self._draining = False

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def start(self) -> None:
        with self._cond:
            self._draining = True
            self._cond.notify_all()

    def enter(self) -> bool:
        """Count a new request in; False (not counted) once draining."""
        with self._cond:
            if self._draining:
                return False
            self._in_flight += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no request is in flight; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight == 0, timeout)


def draining_handler(base: type[Any], drain: ApiDrain) -> type[Any]:
    """``base`` (a Chalice request handler class) that counts its requests in ``drain``
    and answers 503 once it drains."""

    class DrainingHandler(base):
        def _generic_handle(self) -> None:
            if not drain.enter():
                self.close_connection = True
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(UNAVAILABLE_BODY)))
                self.send_header("Retry-After", str(RETRY_AFTER_S))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(UNAVAILABLE_BODY)
                return
            try:
                super()._generic_handle()
            finally:
                drain.leave()

        # Chalice binds its verbs to the base's _generic_handle: bind them to this one.
        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = (
            _generic_handle)

    return DrainingHandler
