"""The wire protocol of the local AWS endpoint, in front of moto's server app.

A WSGI app: requests whose ``X-Amz-Target`` is ``AWSEvents.PutEvents``,
``AWSEvents.PutRule`` or ``AWSEvents.TestEventPattern`` are handled here (JSON 1.1 in,
JSON 1.1 out, AWS errors as ``{"__type", "message"}`` with HTTP 400); PutRule is only
validated here, then passed on; Lambda's Invoke API
(``POST /2015-03-31/functions/<name>/invocations``) runs on the Lambda runtime. Every
other request goes to moto unchanged. Two local routes serve the local cloud itself:
``GET /_local/idle?timeout=S`` and ``GET /_local/stats``.

The caller's account comes from the SigV4 ``Authorization`` header's access key, looked up
in the control plane (moto's: keys made by STS AssumeRole belong to the role's account).

>>> credential_of(
...     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/eu-west-1/events/aws4_request, "
...     "SignedHeaders=host, Signature=abc")
('AKIDEXAMPLE', 'eu-west-1')
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from localcloud.admission import Caller
from localcloud.cache import BoundedCache
from localcloud.errors import AwsApiError
from localcloud.lambda_invoke import INVOKE_PATH, InvokeApi
from localcloud.matching import evaluate_test_event, validate_pattern
from localcloud.router import Router
from localcloud.state import CloudState

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
JSON_11 = "application/x-amz-json-1.1"
IDLE_PATH = "/_local/idle"
STATS_PATH = "/_local/stats"
DEFAULT_REGION = "us-east-1"  # moto's default when a request names none
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_INTERCEPTED = frozenset({"PutEvents", "PutRule", "TestEventPattern"})


def credential_of(header: str | None) -> tuple[str, str]:
    """(access key, region) of a SigV4 ``Authorization`` header; ("", moto's default
    region) without one. Pure."""
    match = _CREDENTIAL.search(header or "")
    return (match.group(1), match.group(2)) if match else ("", DEFAULT_REGION)


def caller_from_authorization(header: str | None, *, state: CloudState,
                              moto_account_header: str | None = None,
                              cache: BoundedCache | None = None) -> Caller:
    """The signing account (and principal) and region of a request.

    Precedence as moto's own ``get_current_account``: ``MOTO_ACCOUNT_ID``, then the
    ``x-moto-account-id`` header, then the access key.
    """
    access_key, region = credential_of(header)
    forced = os.environ.get("MOTO_ACCOUNT_ID") or moto_account_header
    if forced:
        return Caller(forced, region)
    cached = cache.get((access_key, region)) if cache is not None else None
    if cached is not None:
        return cached
    account = state.account_of_access_key(access_key)
    caller = Caller(account, region, state.principal_of_access_key(account, access_key)
                    if access_key else None)
    if cache is not None and account != state.default_account:
        cache[(access_key, region)] = caller
    return caller


def aws_error(code: str, message: str, status: int = 400) -> tuple[int, dict[str, Any]]:
    """An AWS JSON 1.1 error body (botocore reads ``__type`` and ``message``)."""
    return status, {"__type": code, "message": message}


class Gateway:
    """WSGI front: EventBridge data plane requests to the router, the rest to moto."""

    def __init__(self, moto_app: WsgiApp, router: Router, *, state: CloudState) -> None:
        self.moto_app = moto_app
        self.router = router
        self.state = state
        # Bounded: every STS AssumeRole makes a new access key.
        self._callers = BoundedCache()
        self.invoke_api = InvokeApi(state, router.invoker, router.invocations.invoke_async)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_local/"):
            return self._local(environ, start_response, path)
        invoke = INVOKE_PATH.match(path)
        if invoke is not None and environ.get("REQUEST_METHOD") == "POST":
            return self._invoke(environ, start_response, invoke.group("name"))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service, _, action = target.partition(".")
        if service == "AWSEvents" and action in _INTERCEPTED:
            body = _read_body(environ)
            answer = self._events(environ, action, body)
            if answer is not None:
                return _respond(start_response, *answer)
            # A valid PutRule: moto stores it, from the body we already read.
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.moto_app(environ, start_response)

    # -- EventBridge ------------------------------------------------------------------

    def _events(self, environ: dict[str, Any], action: str, body: bytes
                ) -> tuple[int, dict[str, Any]] | None:
        """The answer to an intercepted action; None passes a valid PutRule on to moto."""
        try:
            request = _request_object(body)
            if action == "PutRule":
                # PutRule rejects an invalid EventPattern with InvalidEventPatternException
                # (EventBridge API Reference, PutRule errors); moto itself accepts anything.
                pattern = _string_member(request, "EventPattern")
                if pattern is not None:
                    validate_pattern(pattern)
                return None
            if action == "PutEvents":
                caller = caller_from_authorization(
                    environ.get("HTTP_AUTHORIZATION"), state=self.state,
                    moto_account_header=environ.get("HTTP_X_MOTO_ACCOUNT_ID"),
                    cache=self._callers)
                return 200, self.router.put_events(caller, request.get("Entries"))
            pattern = _required_string(request, "EventPattern")
            return 200, {"Result": evaluate_test_event(pattern, _required_string(request, "Event"))}
        except AwsApiError as exc:
            return aws_error(exc.code, exc.message, exc.status)
        except Exception as exc:  # never let one request take the endpoint down
            log.exception("%s failed", action)
            return aws_error("InternalException", f"{type(exc).__name__}: {exc}", 500)

    # -- Lambda --------------------------------------------------------------------------

    def _invoke(self, environ: dict[str, Any], start_response: Callable[..., Any],
                name: str) -> Iterable[bytes]:
        """Lambda's Invoke API, run by the Lambda runtime (localcloud.lambda_invoke)."""
        caller = caller_from_authorization(
            environ.get("HTTP_AUTHORIZATION"), state=self.state,
            moto_account_header=environ.get("HTTP_X_MOTO_ACCOUNT_ID"), cache=self._callers)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            answer = self.invoke_api.handle(
                caller, name,
                invocation_type=environ.get("HTTP_X_AMZ_INVOCATION_TYPE") or "RequestResponse",
                log_type=environ.get("HTTP_X_AMZ_LOG_TYPE") or "None",
                qualifier=(query.get("Qualifier") or [None])[0], body=_read_body(environ))
        except Exception as exc:  # never let one request take the endpoint down
            log.exception("Invoke of %s failed", name)
            data = json.dumps({"Type": "Service", "message": f"{type(exc).__name__}: {exc}"})
            start_response("500 Internal Server Error", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                ("x-amzn-ErrorType", "ServiceException")])
            return [data.encode()]
        headers = {"Content-Type": "application/json", **answer.headers,
                   "Content-Length": str(len(answer.body))}
        headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        start_response(f"{answer.status} {_REASONS.get(answer.status, 'Error')}",
                       list(headers.items()))
        return [answer.body]

    # -- local routes -------------------------------------------------------------------

    def _local(self, environ: dict[str, Any], start_response: Callable[..., Any],
               path: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if path == IDLE_PATH and method == "GET":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            try:
                timeout = min(float(query.get("timeout", ["10"])[0]), 300.0)
            except ValueError:
                return _respond(start_response, 400, {"message": "timeout must be a number"})
            idle = self.router.wait_idle(timeout)
            return _respond(start_response, 200 if idle else 408,
                            {"idle": idle, "pending": self.router.pending})
        if path == STATS_PATH and method == "GET":
            return _respond(start_response, 200, {"stats": dict(self.router.stats),
                                                  "failures": list(self.router.failures)})
        return _respond(start_response, 404, {"message": f"no local route {method} {path}"})


def _request_object(body: bytes) -> dict[str, Any]:
    """The JSON 1.1 request body, which must be a JSON object (else SerializationException,
    the error AWS JSON protocols give a body they cannot deserialize)."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        raise AwsApiError("SerializationException", "Request body is not valid JSON"
                          ) from None
    if not isinstance(request, dict):
        raise AwsApiError("SerializationException", "Request body must be a JSON object")
    return request


def _string_member(request: dict[str, Any], name: str) -> str | None:
    """An optional string member: a value of another JSON type cannot be deserialized
    (SerializationException).

    >>> _string_member({"EventPattern": "{}"}, "EventPattern")
    '{}'
    """
    value = request.get(name)
    if value is not None and not isinstance(value, str):
        raise AwsApiError("SerializationException",
                          f"{name} must be a string, not a JSON {_json_type(value)}")
    return value


def _required_string(request: dict[str, Any], name: str) -> str:
    """A required string member; missing, it fails validation in AWS's words."""
    value = _string_member(request, name)
    if value is None:
        member = name[0].lower() + name[1:]
        raise AwsApiError("ValidationException", "1 validation error detected: Value null "
                          f"at '{member}' failed to satisfy constraint: Member must not be "
                          "null")
    return value


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "object" if isinstance(value, dict) else "array"


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    return stream.read(length) if length > 0 else b""


_REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request",
            403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
            413: "Request Entity Too Large", 429: "Too Many Requests",
            500: "Internal Server Error"}


def _respond(start_response: Callable[..., Any], status: int, body: dict[str, Any]
             ) -> list[bytes]:
    data = json.dumps(body).encode("utf-8")
    reason = _REASONS.get(status, "Error")
    headers = [("Content-Type", JSON_11), ("Content-Length", str(len(data))),
               ("x-amzn-RequestId", str(uuid.uuid4()))]
    if status >= 400 and "__type" in body:
        headers.append(("x-amzn-ErrorType", body["__type"]))
    start_response(f"{status} {reason}", headers)
    return [data]
