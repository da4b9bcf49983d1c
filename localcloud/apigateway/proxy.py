"""The Lambda proxy integration's two shapes (pure): the event API Gateway sends a REST
API's function, and the HTTP response it makes of the function's answer.

Sources: API Gateway Developer Guide, "Input format of a Lambda function for proxy
integration" and "Output format of a Lambda function for proxy integration"; a malformed
answer is a 502 "Internal server error" (AWS re:Post knowledge center,
"malformed-502-api-gateway").

>>> request = HttpRequest("GET", "/orders/42", "verbose=1&verbose=2",
...                       [("Host", "x"), ("Accept", "*/*")], b"")
>>> event = proxy_event(request, resource_path="/orders/{orderId}",
...     path_parameters={"orderId": "42"}, context=RequestContext("5", "abc", "api",
...     "req-1", "127.0.0.1", 0.0), binary_media_types=())
>>> event["queryStringParameters"], event["multiValueQueryStringParameters"]
({'verbose': '2'}, {'verbose': ['1', '2']})
>>> event["requestContext"]["resourcePath"], event["body"], event["isBase64Encoded"]
('/orders/{orderId}', None, False)
>>> http_response({"statusCode": 201, "headers": {"Location": "/orders/42"}, "body": "{}"})
HttpResponse(status=201, headers=[('Location', '/orders/42')], body=b'{}')
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from localcloud.errors import LocalCloudError

# The one message API Gateway's default gateway responses carry for these failures.
INTERNAL_SERVER_ERROR = "Internal server error"


@dataclass(frozen=True)
class HttpRequest:
    """A request to a stage URL: method, client path, raw query, headers, body."""

    method: str
    path: str
    query_string: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class RequestContext:
    """Who serves the request: API account and id, stage, request id, caller, time."""

    account: str
    api_id: str
    stage: str
    request_id: str
    source_ip: str
    epoch_s: float


@dataclass(frozen=True)
class HttpResponse:
    """What goes back to the client."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class MalformedResponse(LocalCloudError):
    """The function's answer is not a Lambda proxy response."""


def proxy_event(request: HttpRequest, *, resource_path: str,
                path_parameters: Mapping[str, str], context: RequestContext,
                binary_media_types: Sequence[str]) -> dict[str, Any]:
    """The Lambda proxy event (payload format 1.0) of a REST API request.

    Absent query strings, path parameters and stage variables are ``null``, as API
    Gateway sends them; the body is base64 when the request's Content-Type is one of the
    API's binary media types.
    """
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query_string, keep_blank_values=True):
        query[name] = value
        multi_query.setdefault(name, []).append(value)
    content_type = _header(request.headers, "content-type")
    binary = bool(request.body) and is_binary(content_type, binary_media_types)
    body: str | None = None
    if request.body:
        body = (base64.b64encode(request.body).decode("ascii") if binary
                else request.body.decode("utf-8", "replace"))
    user_agent = _header(request.headers, "user-agent")
    return {
        "resource": resource_path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": _request_context(request, resource_path, context, user_agent),
        "body": body,
        "isBase64Encoded": binary,
    }


def _request_context(request: HttpRequest, resource_path: str, context: RequestContext,
                     user_agent: str | None) -> dict[str, Any]:
    when = time.gmtime(context.epoch_s)
    return {
        "accountId": context.account,
        "apiId": context.api_id,
        "domainName": f"{context.api_id}.execute-api.localhost",
        "domainPrefix": context.api_id,
        "extendedRequestId": context.request_id,
        "httpMethod": request.method,
        "identity": {"sourceIp": context.source_ip, "userAgent": user_agent,
                     "accountId": None, "caller": None, "user": None, "userArn": None,
                     "accessKey": None, "cognitoIdentityId": None,
                     "cognitoIdentityPoolId": None, "cognitoAuthenticationType": None,
                     "cognitoAuthenticationProvider": None, "principalOrgId": None},
        "path": f"/{context.stage}{request.path}",
        "protocol": "HTTP/1.1",
        "requestId": context.request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", when),
        "requestTimeEpoch": int(context.epoch_s * 1000),
        "resourcePath": resource_path,
        "stage": context.stage,
    }


def is_binary(content_type: str | None, binary_media_types: Sequence[str]) -> bool:
    """Does a Content-Type match one of the API's binary media types (``*/*`` and
    ``type/*`` wildcards included)?

    >>> is_binary("image/png; q=1", ["image/*"]), is_binary("application/json", ["image/png"])
    (True, False)
    """
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    major = kind.split("/", 1)[0]
    for pattern in binary_media_types:
        pattern = pattern.strip().lower()
        if pattern in (kind, "*/*", f"{major}/*"):
            return True
    return False


def http_response(answer: Any) -> HttpResponse:
    """The HTTP response of a function's proxy answer; MalformedResponse when it is not
    one (not an object, a non-integer ``statusCode``, non-string ``body``, unknown keys,
    headers that are not strings, a base64 body that does not decode)."""
    if not isinstance(answer, dict):
        raise MalformedResponse("the function's answer is not a JSON object")
    unknown = set(answer) - {"statusCode", "headers", "multiValueHeaders", "body",
                             "isBase64Encoded", "cookies"}
    if unknown:
        raise MalformedResponse(f"unexpected keys in the proxy response: {sorted(unknown)}")
    status = answer.get("statusCode", 200)
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    single = answer.get("headers")
    multi = answer.get("multiValueHeaders")
    single = {} if single is None else single
    multi = {} if multi is None else multi
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    for name, value in multi.items():
        if not isinstance(value, list):
            raise MalformedResponse(f"multiValueHeaders.{name} must be a list")
        headers.extend((name, _header_value(name, item)) for item in value)
    named = {name.lower() for name, _ in headers}
    headers.extend((name, _header_value(name, value)) for name, value in single.items()
                   if name.lower() not in named)
    body = answer.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise MalformedResponse("body must be a string")
    elif answer.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("body is marked base64 but does not decode") from None
    else:
        data = body.encode("utf-8")
    return HttpResponse(status, headers, data)


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedResponse(f"header {name} must be a string")
    return str(value)


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def gateway_error(status: int, message: str, error_type: str) -> HttpResponse:
    """A default gateway response: ``{"message": ...}`` with ``x-amzn-ErrorType``.

    >>> gateway_error(504, "Endpoint request timed out", "IntegrationTimeoutException").body
    b'{"message": "Endpoint request timed out"}'
    """
    body = json.dumps({"message": message}).encode("utf-8")
    return HttpResponse(status, [("Content-Type", "application/json"),
                                 ("x-amzn-ErrorType", error_type)], body)
