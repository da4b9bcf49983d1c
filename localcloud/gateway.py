"""The wire protocol of the local AWS endpoint, in front of moto's server app.

A WSGI app: requests whose ``X-Amz-Target`` is ``AWSEvents.PutEvents``,
``AWSEvents.PutRule`` or ``AWSEvents.TestEventPattern`` are handled here (JSON 1.1 in,
JSON 1.1 out, AWS errors as ``{"__type", "message"}`` with HTTP 400); PutRule is only
validated here, then passed on. Every other request goes to moto unchanged. Two local
routes serve the local cloud itself: ``GET /_local/idle?timeout=S`` and
``GET /_local/stats``; they and moto's ``/moto-api/*``
answer 403 unless the request carries the control secret (:mod:`localcloud.control`).

Every other request must be signed (SigV4) with credentials the local cloud knows
(:mod:`localcloud.identity`), else it is answered as AWS answers it in its protocol
(:mod:`localcloud.auth_errors`); the caller's account is the account of its access key,
never a header. STS ``AssumeRole`` is checked here (:mod:`localcloud.sts`) before moto
issues the credentials. API Gateway's public URLs (``/restapis/<id>/<stage>/_user_request_/``)
need no credentials, as on AWS. DynamoDB's requests go to moto one at a time
(:mod:`localcloud.item_atomicity`), so that a conditional write is atomic as on AWS.
"""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from localcloud.admission import Caller
from localcloud.apigateway import control
from localcloud.apigateway.proxy import HttpRequest, HttpResponse
from localcloud.apigateway.service import RestApiService
from localcloud.apigateway.urls import UserRequest, user_request
from localcloud.auth_errors import ErrorAnswer, Protocol, auth_error, protocol_of
from localcloud.control import SECRET_HEADER, ControlGuard
from localcloud.drain import (
    RETRY_AFTER_S,
    UNAVAILABLE_CODE,
    UNAVAILABLE_MESSAGE,
    DrainGate,
)
from localcloud.errors import AwsApiError
from localcloud.identity import Authenticator, Identity
from localcloud.item_atomicity import ItemAtomicity
from localcloud.lambda_invoke import INVOKE_PATH, InvokeApi
from localcloud.matching import evaluate_test_event, validate_pattern
from localcloud.policy import Principal
from localcloud.request_body import MAX_JSON_DEPTH, too_deep
from localcloud.router import Router
from localcloud.sigv4 import AuthFailure, parse_query
from localcloud.state import CloudState
from localcloud.sts import LocalSts
from localcloud.wire import read_body, wire_request

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
JSON_11 = "application/x-amz-json-1.1"
IDLE_PATH = "/_local/idle"
STATS_PATH = "/_local/stats"
# STS actions that take no caller credentials on AWS (federation): not emulated here.
_FEDERATION = frozenset({"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})
_INTERCEPTED = frozenset({"PutEvents", "PutRule", "TestEventPattern"})


def aws_error(code: str, message: str, status: int = 400) -> tuple[int, dict[str, Any]]:
    """An AWS JSON 1.1 error body (botocore reads ``__type`` and ``message``)."""
    return status, {"__type": code, "message": message}


class Gateway:
    """WSGI front: EventBridge data plane requests to the router, the rest to moto."""

    def __init__(self, moto_app: WsgiApp, router: Router, *, state: CloudState,
                 control: ControlGuard, gate: DrainGate | None = None) -> None:
        self.moto_app = moto_app
        self.control = control
        # While stopping: new requests of other callers get 503 (localcloud.drain).
        self.gate = gate or DrainGate()
        self.router = router
        self.state = state
        self.authenticator = Authenticator(state)
        self.sts = LocalSts(state)
        self.rest_apis = RestApiService(state, lambda: self.router.invoker)
        self.invoke_api = InvokeApi(state, router.invoker, router.invocations.invoke_async)
        self.item_atomicity = ItemAtomicity()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if self.control.guards(path):
            if not self.control.admits(environ):
                return _respond(start_response, 403, {
                    "message": f"{path} is a control route of the local cloud: it needs the "
                               f"{SECRET_HEADER} header with the endpoint's control secret"})
            if path.startswith("/_local/"):
                return self._local(environ, start_response, path)
            if path.startswith("/moto-api/reset"):
                self.authenticator.forget()  # moto forgets every access key
            return self.moto_app(environ, start_response)
        stage_request = user_request(path)
        if stage_request is not None:  # a public API Gateway URL: no AWS credentials
            if self.gate.refuses(None):
                return _respond_unavailable(start_response, ErrorAnswer(
                    503, UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE, Protocol.REST_JSON))
            environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
            return self._stage_request(environ, start_response, stage_request)
        try:
            identity = self.authenticator.authenticate(wire_request(
                environ, with_body=_body_is_signed(environ)))
        except AuthFailure as failure:
            return _respond_error(start_response, auth_error(
                failure, protocol_of(environ, _signed_service(environ))))
        if self.gate.refuses(identity.access_key):
            return _respond_unavailable(start_response, ErrorAnswer(
                503, UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE,
                protocol_of(environ, identity.service)))
        # moto lets this header choose the account; here only the access key does (once
        # verified: a client may have signed the header too).
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
        if identity.service == "sts":
            refused = self._sts(environ, identity)
            if refused is not None:
                return _respond_error(start_response, refused)
        if path.startswith("/restapis"):
            action = control.control_action(environ.get("REQUEST_METHOD", "GET"), path,
                                            environ.get("QUERY_STRING", ""))
            if action is not None:
                return _respond(start_response,
                                *self._rest_api_control(environ, identity, action))
        invoke = INVOKE_PATH.match(path)
        if invoke is not None and environ.get("REQUEST_METHOD") == "POST":
            return self._invoke(environ, start_response, identity, invoke.group("name"))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service, _, action = target.partition(".")
        if target or "json" in environ.get("CONTENT_TYPE", ""):
            # JSON protocols: a body nested past any real request is refused before a
            # parser (ours or moto's) recurses on it.
            body = read_body(environ)
            if too_deep(body):
                return _respond(start_response, *aws_error(
                    "SerializationException", "Request body nests JSON deeper than "
                    f"{MAX_JSON_DEPTH} levels"))
            if service == "AWSEvents" and action in _INTERCEPTED:
                answer = self._events(identity, action, body)
                if answer is not None:
                    return _respond(start_response, *answer)
            # moto reads the body we already read.
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            if self.item_atomicity.guards(target):
                return self.item_atomicity.serve(
                    lambda: self.moto_app(environ, start_response))
        return self.moto_app(environ, start_response)

    # -- EventBridge ------------------------------------------------------------------

    def _events(self, identity: Identity, action: str, body: bytes
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
                caller = Caller(identity.account, identity.region, identity.principal_arn)
                return 200, self.router.put_events(caller, request.get("Entries"))
            pattern = _required_string(request, "EventPattern")
            return 200, {"Result": evaluate_test_event(pattern, _required_string(request, "Event"))}
        except AwsApiError as exc:
            return aws_error(exc.code, exc.message, exc.status)
        except Exception as exc:  # never let one request take the endpoint down
            log.exception("%s failed", action)
            return aws_error("InternalException", f"{type(exc).__name__}: {exc}", 500)

    # -- STS ------------------------------------------------------------------------------

    def _sts(self, environ: dict[str, Any], identity: Identity) -> ErrorAnswer | None:
        """AccessDenied for an AssumeRole the role's trust policy refuses, else None."""
        params = dict(parse_query(environ.get("QUERY_STRING", "")))
        if environ.get("REQUEST_METHOD") == "POST":
            params.update(parse_query(read_body(environ).decode("utf-8", "replace")
                                      .replace("+", "%20")))
        action = params.get("Action")
        if action in _FEDERATION:
            return ErrorAnswer(403, "AccessDenied", f"{action} is not supported by the local "
                               "cloud: sign AssumeRole with the local credentials instead",
                               Protocol.QUERY)
        if action != "AssumeRole" or not params.get("RoleArn"):
            return None
        refusal = self.sts.refusal(Principal(arn=identity.principal_arn), params["RoleArn"],
                                   external_id=params.get("ExternalId"))
        return None if refusal is None else ErrorAnswer(403, "AccessDenied", refusal,
                                                        Protocol.QUERY)


    # -- API Gateway ----------------------------------------------------------------------

    def _rest_api_control(self, environ: dict[str, Any], identity: Identity,
                          action: tuple[str, str | None]) -> tuple[int, dict[str, Any]]:
        """ImportRestApi / PutRestApi in the signer's account and region."""
        try:
            return control.handle(self.state, action, account=identity.account,
                                  region=identity.region,
                                  query=environ.get("QUERY_STRING", ""),
                                  body=read_body(environ))
        except AwsApiError as exc:
            # API Gateway's REST-JSON errors: the type in x-amzn-ErrorType, {"message"}.
            return exc.status, {"__type": exc.code, "message": exc.message}
        except Exception as exc:  # never let one request take the endpoint down
            log.exception("%s failed", action[0])
            return aws_error("InternalException", f"{type(exc).__name__}: {exc}", 500)

    def _stage_request(self, environ: dict[str, Any], start_response: Callable[..., Any],
                       target: UserRequest) -> Iterable[bytes]:
        """A public request to a REST API stage URL: no AWS credentials involved."""
        headers = [(key[5:].replace("_", "-").title(), value) for key, value in environ.items()
                   if key.startswith("HTTP_")]
        for key, name in (("CONTENT_TYPE", "Content-Type"),
                          ("CONTENT_LENGTH", "Content-Length")):
            if environ.get(key):
                headers.append((name, environ[key]))
        request = HttpRequest(environ.get("REQUEST_METHOD", "GET"), target.path,
                              environ.get("QUERY_STRING", ""), headers, read_body(environ))
        try:
            response = self.rest_apis.handle(target, request,
                                             environ.get("REMOTE_ADDR", "127.0.0.1"))
        except Exception:  # a bug of ours: API Gateway's 500, never a dropped connection
            log.exception("request to %s failed", target)
            response = HttpResponse(500, [("Content-Type", "application/json")],
                                    b'{"message": "Internal server error"}')
        return _respond_raw(start_response, response)
    # -- Lambda --------------------------------------------------------------------------

    def _invoke(self, environ: dict[str, Any], start_response: Callable[..., Any],
                identity: Identity, name: str) -> Iterable[bytes]:
        """Lambda's Invoke API, run by the Lambda runtime (localcloud.lambda_invoke)."""
        caller = Caller(identity.account, identity.region, identity.principal_arn)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            answer = self.invoke_api.handle(
                caller, name,
                invocation_type=environ.get("HTTP_X_AMZ_INVOCATION_TYPE") or "RequestResponse",
                log_type=environ.get("HTTP_X_AMZ_LOG_TYPE") or "None",
                qualifier=(query.get("Qualifier") or [None])[0], body=read_body(environ))
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
        start_response(f"{answer.status} {_reason(answer.status)}",
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


def _body_is_signed(environ: dict[str, Any]) -> bool:
    """Must the body be hashed to verify the signature? Not when the client declared its
    hash (``X-Amz-Content-SHA256``, S3) or signed a presigned URL (UNSIGNED-PAYLOAD)."""
    return not environ.get("HTTP_X_AMZ_CONTENT_SHA256") and \
        "X-Amz-Signature=" not in environ.get("QUERY_STRING", "")


def _signed_service(environ: dict[str, Any]) -> str | None:
    """The service of the credential scope a request names, if any (for the protocol)."""
    credential = re.search(r"Credential=[^/,&\s]+(?:/|%2F)\d{8}(?:/|%2F)[^/%]+(?:/|%2F)"
                           r"([a-z0-9-]+)", environ.get("HTTP_AUTHORIZATION", "")
                           + " " + environ.get("QUERY_STRING", ""))
    return credential.group(1) if credential else None


def _respond_error(start_response: Callable[..., Any], answer: ErrorAnswer) -> list[bytes]:
    request_id = str(uuid.uuid4())
    data = answer.body(request_id)
    start_response(f"{answer.status} {'Forbidden' if answer.status == 403 else 'Bad Request'}",
                   [("Content-Type", answer.content_type()), ("Content-Length", str(len(data))),
                    ("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", answer.code)])
    return [data]


def _respond_unavailable(start_response: Callable[..., Any], answer: ErrorAnswer
                         ) -> list[bytes]:
    """503 in the caller's protocol, with ``Retry-After`` (the SDKs retry it)."""
    request_id = str(uuid.uuid4())
    data = answer.body(request_id)
    start_response("503 Service Unavailable", [
        ("Content-Type", answer.content_type()), ("Content-Length", str(len(data))),
        ("Retry-After", str(RETRY_AFTER_S)),
        ("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", answer.code)])
    return [data]


def _request_object(body: bytes) -> dict[str, Any]:
    """The JSON 1.1 request body, which must be a JSON object (else SerializationException,
    the error AWS JSON protocols give a body they cannot deserialize)."""
    try:
        request = json.loads(body or b"{}")
    except (ValueError, RecursionError):
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


def _respond_raw(start_response: Callable[..., Any], response: HttpResponse) -> list[bytes]:
    """An HTTP response as the function (or API Gateway) made it."""
    headers = [(name, value) for name, value in response.headers
               if name.lower() not in ("content-length", "transfer-encoding", "connection")]
    headers.append(("Content-Length", str(len(response.body))))
    start_response(f"{response.status} {_reason(response.status)}", headers)
    return [response.body]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _respond(start_response: Callable[..., Any], status: int, body: dict[str, Any]
             ) -> list[bytes]:
    data = json.dumps(body).encode("utf-8")
    reason = _reason(status)
    headers = [("Content-Type", JSON_11), ("Content-Length", str(len(data))),
               ("x-amzn-RequestId", str(uuid.uuid4()))]
    if status >= 400 and "__type" in body:
        headers.append(("x-amzn-ErrorType", body["__type"]))
    start_response(f"{status} {reason}", headers)
    return [data]
