"""Running a Lambda function: the one interface the data plane invokes functions through.

:class:`FunctionInvoker` is what a Lambda target, the Invoke API and API Gateway call:
"invoke this function with this payload". The Lambda runtime
(:class:`localcloud.runtime.invoker.LambdaRuntime`) serves it in the endpoint; a router
built without one runs no function (:data:`NO_FUNCTIONS`).

>>> NO_FUNCTIONS.unavailable("arn:aws:lambda:eu-west-1:222222222222:function:g")
'no Lambda runtime runs functions for this router'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

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


class _NoFunctions:
    """The invoker of a router without a Lambda runtime: every function is unavailable."""

    def unavailable(self, function_arn: str) -> str | None:
        return "no Lambda runtime runs functions for this router"

    def invoke(self, function_arn: str, payload: str, *, timeout_s: float,
               request_id: str) -> InvocationResult:
        raise FunctionUnreachable("runtime", "(none)", self.unavailable(function_arn) or "")


NO_FUNCTIONS: FunctionInvoker = _NoFunctions()
