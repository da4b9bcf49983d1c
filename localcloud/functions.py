"""Running a Lambda function: the one interface the data plane invokes functions through.

:class:`FunctionInvoker` is what a Lambda target calls: "invoke this function with this
payload". Today :class:`WorkerRegistry` serves it: each function ARN is registered with
the URL of a worker process that runs it, and an invocation is a POST of Lambda's Invoke
API shape to that worker. A runtime that runs functions from their deployment packages
can take its place behind the same two methods.

>>> registry = WorkerRegistry()
>>> registry.register("arn:aws:lambda:eu-west-1:222222222222:function:f", "http://127.0.0.1:9001/")
>>> registry.url_for("arn:aws:lambda:eu-west-1:222222222222:function:f:live")
'http://127.0.0.1:9001'
>>> registry.unavailable("arn:aws:lambda:eu-west-1:222222222222:function:g")
'no worker is registered for arn:aws:lambda:eu-west-1:222222222222:function:g'
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from localcloud import arns
from localcloud.errors import LocalCloudError


@dataclass
class InvocationResult:
    """What one attempt returned: a result, or a function error payload; the lines the
    invocation wrote to its log (for the Invoke API's ``LogType=Tail``)."""

    status: int
    payload: Any
    function_error: str | None = None
    log_lines: list[str] = field(default_factory=list)


class FunctionUnreachable(LocalCloudError):
    """What runs the function could not be reached: the invocation never started."""

    def __init__(self, kind: str, where: str, reason: str) -> None:
        super().__init__(f"{kind} {where} unreachable: {reason}")
        self.kind = kind
        self.reason = reason

    @property
    def without_location(self) -> str:
        """The message without the address, as a function error payload carries it."""
        return f"{self.kind} unreachable: {self.reason}"


class FunctionInvoker(Protocol):
    """What invokes Lambda functions for the data plane."""

    def unavailable(self, function_arn: str) -> str | None:
        """Why nothing can run ``function_arn`` now (a retriable condition), or None."""

    def invoke(self, function_arn: str, payload: str, *, timeout_s: float,
               request_id: str) -> InvocationResult:
        """One invocation. A function error or timeout is a result (``function_error``
        set); raises FunctionUnreachable when the function could not be started."""


class WorkerRegistry:
    """Function ARN -> base URL of the worker process that runs it."""

    def __init__(self) -> None:
        self.routes: dict[str, str] = {}
        self._lock = threading.Lock()

    def register(self, function_arn: str, url: str) -> None:
        """Route invocations of ``function_arn`` (and its versions) to the worker at ``url``;
        raises ValueError for anything but a function ARN and an ``http://host:port`` URL."""
        arn = arns.parse(function_arn)
        if not arns.is_function(arn):
            raise ValueError(f"{function_arn!r} is not a Lambda function ARN")
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"{url!r} is not an http://host:port URL")
        with self._lock:
            self.routes[function_arn] = f"http://{parts.hostname}:{parts.port}"

    def url_for(self, function_arn: str) -> str | None:
        with self._lock:
            url = self.routes.get(function_arn)
            if url is None:
                url = self.routes.get(arns.unqualified_function(arns.parse(function_arn)))
            return url

    def unavailable(self, function_arn: str) -> str | None:
        if self.url_for(function_arn) is None:
            return f"no worker is registered for {function_arn}"
        return None

    def invoke(self, function_arn: str, payload: str, *, timeout_s: float,
               request_id: str) -> InvocationResult:
        url = self.url_for(function_arn)
        if url is None:
            raise FunctionUnreachable("worker", "(none)",
                                      f"no worker is registered for {function_arn}")
        name, _ = arns.function_name(arns.parse(function_arn))
        try:
            return invoke_worker(url, name, payload, timeout_s=timeout_s, request_id=request_id)
        except OSError as exc:
            raise FunctionUnreachable("worker", url, str(exc)) from None


def invoke_worker(url: str, name: str, body: str, *, timeout_s: float,
                  request_id: str) -> InvocationResult:
    """POST the event to the worker, as Lambda's Invoke API shape; raises OSError when the
    worker is unreachable.

    A reply that takes longer than the function's timeout is the function's timeout, as
    Lambda reports it ("Task timed out after N seconds", Lambda Developer Guide, "Lambda
    function timeout"); another HTTP error is Lambda's own ServiceException.
    """
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout_s)
    try:
        connection.request(
            "POST", f"/2015-03-31/functions/{quote(name, safe='')}/invocations",
            body=body.encode("utf-8"),
            headers={"Content-Type": "application/json", "X-Amzn-RequestId": request_id})
        try:
            response = connection.getresponse()
            data = response.read()
        except TimeoutError:
            return InvocationResult(200, {
                "errorMessage": f"Task timed out after {timeout_s:.2f} seconds",
                "errorType": "Sandbox.Timedout"}, "Unhandled")
    finally:
        connection.close()
    try:
        payload = json.loads(data) if data else None
    except ValueError:
        payload = data.decode("utf-8", "replace")
    error = response.getheader("X-Amz-Function-Error")
    if response.status != 200 and not error:
        return InvocationResult(response.status, {
            "errorMessage": f"the worker answered HTTP {response.status}",
            "errorType": "ServiceException"}, "Unhandled")
    return InvocationResult(response.status, payload, error)


class RegisteredFirst:
    """Functions with a registered worker go to it; every other function to ``runtime``
    (the Lambda runtime), so registered workers and deployed packages coexist.

    >>> registry = WorkerRegistry()
    >>> registry.register("arn:aws:lambda:r:1:function:f", "http://127.0.0.1:9001")
    >>> RegisteredFirst(registry, registry).unavailable("arn:aws:lambda:r:1:function:f") is None
    True
    """

    def __init__(self, registry: WorkerRegistry, runtime: FunctionInvoker) -> None:
        self.registry = registry
        self.runtime = runtime

    def _for(self, function_arn: str) -> FunctionInvoker:
        return self.registry if self.registry.url_for(function_arn) else self.runtime

    def unavailable(self, function_arn: str) -> str | None:
        return self._for(function_arn).unavailable(function_arn)

    def invoke(self, function_arn: str, payload: str, *, timeout_s: float,
               request_id: str) -> InvocationResult:
        return self._for(function_arn).invoke(function_arn, payload, timeout_s=timeout_s,
                                              request_id=request_id)
