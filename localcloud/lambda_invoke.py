"""Lambda's Invoke API (``POST /2015-03-31/functions/<name>/invocations``) on the runtime.

Semantics per the Lambda API Reference, "Invoke": ``X-Amz-Invocation-Type``
``RequestResponse`` (default: run now, 200 with the function's result or error body and
``X-Amz-Function-Error``), ``Event`` (202, queued for Lambda's asynchronous invocation
with its retries and destinations) or ``DryRun`` (204 once the caller may invoke);
``X-Amz-Log-Type: Tail`` returns the last 4 KB of the log in ``X-Amz-Log-Result``
(base64). The function is named by name, partial ARN or ARN, with an optional
``:qualifier`` or ``Qualifier`` query parameter. A caller of another account needs the
function's resource policy to allow it ``lambda:InvokeFunction``. Errors are Lambda's
REST-JSON shape: ``{"Type": "User", "message": ...}`` with ``x-amzn-ErrorType``.

>>> function_arn_of("f", region="eu-west-1", account="222222222222", qualifier=None)
'arn:aws:lambda:eu-west-1:222222222222:function:f'
>>> function_arn_of("333333333333:function:g:live", region="eu-west-1", account="2",
...                 qualifier=None)
'arn:aws:lambda:eu-west-1:333333333333:function:g:live'
>>> payload_text(b"") , payload_text(b'{"a": 1}')
('{}', '{"a": 1}')
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from localcloud import arns
from localcloud.admission import Caller
from localcloud.errors import AwsApiError
from localcloud.functions import FunctionInvoker, FunctionUnreachable, InvocationResult
from localcloud.permissions import decide
from localcloud.policy import Decision, Principal
from localcloud.runtime.logs import tail
from localcloud.state import CloudState, Function

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
# Payload limits (Lambda quotas): 6 MB synchronous, 256 KB asynchronous.
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 256 * 1024


@dataclass
class InvokeAnswer:
    """The HTTP answer to one Invoke request."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def invoke_error(status: int, code: str, message: str) -> InvokeAnswer:
    """A Lambda REST-JSON error (botocore reads ``x-amzn-ErrorType`` and ``message``)."""
    return InvokeAnswer(status, json.dumps({"Type": "User", "message": message}).encode(),
                        {"x-amzn-ErrorType": code})


def function_arn_of(name: str, *, region: str, account: str, qualifier: str | None) -> str:
    """The function ARN an Invoke path names (name, partial ARN or ARN). Pure."""
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name:
        arn = f"arn:{arns.PARTITION}:lambda:{region}:{name}"
    else:
        arn = f"arn:{arns.PARTITION}:lambda:{region}:{account}:function:{name}"
    try:
        parsed = arns.parse(arn)
    except ValueError:
        raise AwsApiError("ValidationException", f"1 validation error detected: Value "
                          f"'{name}' at 'functionName' failed to satisfy constraint") from None
    if parsed.service != "lambda" or not parsed.resource.startswith("function:"):
        raise AwsApiError("ValidationException", f"1 validation error detected: Value "
                          f"'{name}' at 'functionName' failed to satisfy constraint")
    if qualifier and arns.function_name(parsed)[1] is None:
        arn = f"{arn}:{qualifier}"
    return arn


def payload_text(body: bytes) -> str:
    """The request payload as JSON text; Lambda refuses what is not JSON."""
    if not body.strip():
        return "{}"
    try:
        text = body.decode("utf-8")
        json.loads(text)
    except ValueError as exc:
        raise AwsApiError("InvalidRequestContentException",
                          f"Could not parse request body into json: {exc}") from None
    return text


class InvokeApi:
    """Answers Invoke requests through a FunctionInvoker; Event requests go to ``queue``."""

    def __init__(self, state: CloudState, invoker: FunctionInvoker,
                 queue: Callable[[Function, str], str]) -> None:
        self.state = state
        self.invoker = invoker
        self.queue = queue

    def handle(self, caller: Caller, name: str, *, invocation_type: str, log_type: str,
               qualifier: str | None, body: bytes) -> InvokeAnswer:
        try:
            return self._handle(caller, name, invocation_type=invocation_type,
                                log_type=log_type, qualifier=qualifier, body=body)
        except AwsApiError as exc:
            return invoke_error(exc.status, exc.code, exc.message)

    def _handle(self, caller: Caller, name: str, *, invocation_type: str, log_type: str,
                qualifier: str | None, body: bytes) -> InvokeAnswer:
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise AwsApiError("InvalidParameterValueException",
                              f"Unsupported invocation type {invocation_type}")
        arn = function_arn_of(name, region=caller.region, account=caller.account,
                              qualifier=qualifier)
        function = self.state.function(arns.parse(arn))
        if function is None:
            raise AwsApiError("ResourceNotFoundException", f"Function not found: {arn}", 404)
        self._authorize(caller, arn, function)
        if invocation_type == "DryRun":
            return InvokeAnswer(204, b"")
        limit = ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT
        if len(body) > limit:
            raise AwsApiError("RequestEntityTooLargeException",
                              f"Request must be smaller than {limit} bytes for the "
                              f"{invocation_type} invocation type", 413)
        payload = payload_text(body)
        if invocation_type == "Event":
            request_id = self.queue(function, payload)
            return InvokeAnswer(202, b"", {"x-amzn-RequestId": request_id})
        request_id = str(uuid.uuid4())
        try:
            result = self.invoker.invoke(arn, payload, timeout_s=function.timeout_s,
                                         request_id=request_id)
        except FunctionUnreachable as exc:
            if "throttled" in exc.reason:
                raise AwsApiError("TooManyRequestsException", "Rate Exceeded.", 429) from None
            raise AwsApiError("ServiceException", exc.without_location, 500) from None
        return answer_of(result, request_id, tail_log=log_type == "Tail")

    def _authorize(self, caller: Caller, arn: str, function: Function) -> None:
        """Same account: allowed (identity policies are not evaluated locally); another
        account: the function's resource policy must allow the caller."""
        if caller.account == arns.parse(arn).account:
            return
        decision = decide(function.policy, principal=Principal(account=caller.account,
                                                               arn=caller.arn),
                          action="lambda:InvokeFunction", resource=function.arn, context={})
        if decision is not Decision.ALLOW:
            raise AwsApiError("AccessDeniedException",
                              f"User: {caller.principal_arn} is not authorized to perform: "
                              f"lambda:InvokeFunction on resource: {arn} because no "
                              "resource-based policy allows the lambda:InvokeFunction action",
                              403)


def answer_of(result: InvocationResult, request_id: str, *, tail_log: bool) -> InvokeAnswer:
    """The RequestResponse answer of one result. Pure.

    >>> answer = answer_of(InvocationResult(200, {"errorMessage": "x"}, "Unhandled", ["l"]),
    ...                    "r", tail_log=True)
    >>> answer.headers["X-Amz-Function-Error"], base64.b64decode(answer.headers["X-Amz-Log-Result"])
    ('Unhandled', b'l\\n')
    """
    headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST",
               "x-amzn-RequestId": request_id}
    if result.function_error:
        headers["X-Amz-Function-Error"] = result.function_error
    if tail_log:
        headers["X-Amz-Log-Result"] = base64.b64encode(
            tail(result.log_lines).encode("utf-8")).decode("ascii")
    return InvokeAnswer(200, json.dumps(result.payload).encode("utf-8"), headers)
