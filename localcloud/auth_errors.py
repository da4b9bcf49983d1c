"""How AWS answers a request it cannot authenticate, in each wire protocol.

Sources: the Common Errors pages of the API references (query protocol: IAM, STS:
``MissingAuthenticationToken`` 403, ``IncompleteSignature`` 400, ``InvalidClientTokenId``
403, ``SignatureDoesNotMatch`` 403); AWS's recorded answers of JSON protocol services
(EventBridge, Logs, DynamoDB, SQS: ``{"__type": "UnrecognizedClientException", "message":
"The security token included in the request is invalid."}`` with HTTP 400, the same codes
with 403 from REST-JSON services such as Lambda); the Amazon S3 API Reference, "Error
responses" (``AccessDenied``, ``InvalidAccessKeyId``, ``SignatureDoesNotMatch``,
``AuthorizationHeaderMalformed``, ``RequestTimeTooSkewed``, ``InvalidToken``).

>>> answer = auth_error(AuthFailure(Failure.UNKNOWN_KEY, "AKID"), Protocol.JSON)
>>> answer.status, answer.code, answer.message
(400, 'UnrecognizedClientException', 'The security token included in the request is invalid.')
>>> auth_error(AuthFailure(Failure.MISSING), Protocol.QUERY).code
'MissingAuthenticationToken'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from xml.sax.saxutils import escape

from localcloud.sigv4 import AuthFailure, Failure


class Protocol(Enum):
    JSON = "json"            # X-Amz-Target: EventBridge, Logs, DynamoDB, SQS, STS (JSON)
    QUERY = "query"          # Action=...: IAM, STS
    REST_JSON = "rest-json"  # Lambda, API Gateway, ...
    REST_XML = "rest-xml"    # S3


_INVALID_TOKEN = "The security token included in the request is invalid."
_BAD_SIGNATURE = ("The request signature we calculated does not match the signature you "
                  "provided. Check your AWS Secret Access Key and signing method. Consult "
                  "the service documentation for details.")
_REST_JSON_PATH = re.compile(r"^/(20\d\d-\d\d-\d\d|restapis|apikeys|domainnames|tags|"
                             r"usageplans|account|clientcertificates|vpclinks)(/|$)")

# (code, HTTP status, message or None for the failure's own detail), per protocol.
_ANSWERS: dict[Protocol, dict[Failure, tuple[str, int, str | None]]] = {
    Protocol.JSON: {
        Failure.MISSING: ("MissingAuthenticationTokenException", 400,
                          "Request is missing Authentication Token"),
        Failure.INCOMPLETE: ("IncompleteSignatureException", 400, None),
        Failure.UNKNOWN_KEY: ("UnrecognizedClientException", 400, _INVALID_TOKEN),
        Failure.BAD_TOKEN: ("UnrecognizedClientException", 400, _INVALID_TOKEN),
        Failure.BAD_SIGNATURE: ("InvalidSignatureException", 400, _BAD_SIGNATURE),
        Failure.EXPIRED: ("InvalidSignatureException", 400, None),
    },
    Protocol.REST_JSON: {
        Failure.MISSING: ("MissingAuthenticationTokenException", 403,
                          "Missing Authentication Token"),
        Failure.INCOMPLETE: ("IncompleteSignatureException", 403, None),
        Failure.UNKNOWN_KEY: ("UnrecognizedClientException", 403, _INVALID_TOKEN),
        Failure.BAD_TOKEN: ("UnrecognizedClientException", 403, _INVALID_TOKEN),
        Failure.BAD_SIGNATURE: ("InvalidSignatureException", 403, _BAD_SIGNATURE),
        Failure.EXPIRED: ("InvalidSignatureException", 403, None),
    },
    Protocol.QUERY: {
        Failure.MISSING: ("MissingAuthenticationToken", 403,
                          "Request is missing Authentication Token"),
        Failure.INCOMPLETE: ("IncompleteSignature", 400, None),
        Failure.UNKNOWN_KEY: ("InvalidClientTokenId", 403, _INVALID_TOKEN),
        Failure.BAD_TOKEN: ("InvalidClientTokenId", 403, _INVALID_TOKEN),
        Failure.BAD_SIGNATURE: ("SignatureDoesNotMatch", 403, _BAD_SIGNATURE),
        Failure.EXPIRED: ("SignatureDoesNotMatch", 403, None),
    },
    Protocol.REST_XML: {
        Failure.MISSING: ("AccessDenied", 403, "Access Denied"),
        Failure.INCOMPLETE: ("AuthorizationHeaderMalformed", 400, None),
        Failure.UNKNOWN_KEY: ("InvalidAccessKeyId", 403, "The AWS Access Key Id you "
                              "provided does not exist in our records."),
        Failure.BAD_TOKEN: ("InvalidToken", 400, "The provided token is malformed or "
                            "otherwise invalid."),
        Failure.BAD_SIGNATURE: ("SignatureDoesNotMatch", 403, "The request signature we "
                                "calculated does not match the signature you provided. "
                                "Check your key and signing method."),
        Failure.EXPIRED: ("RequestTimeTooSkewed", 403, "The difference between the request "
                          "time and the current time is too large."),
    },
}


@dataclass(frozen=True)
class ErrorAnswer:
    """One error response: status, code, message, and its body and headers on the wire."""

    status: int
    code: str
    message: str
    protocol: Protocol

    def body(self, request_id: str) -> bytes:
        if self.protocol in (Protocol.JSON, Protocol.REST_JSON):
            return json.dumps({"__type": self.code, "message": self.message}).encode()
        code, message = escape(self.code), escape(self.message)
        if self.protocol is Protocol.QUERY:
            return (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                    f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}"
                    f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
                    ).encode()
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
                ).encode()

    def content_type(self) -> str:
        return {Protocol.JSON: "application/x-amz-json-1.1",
                Protocol.REST_JSON: "application/json"}.get(self.protocol, "text/xml")


def auth_error(failure: AuthFailure, protocol: Protocol) -> ErrorAnswer:
    """AWS's answer to an unauthenticated request in ``protocol``."""
    code, status, message = _ANSWERS[protocol][failure.failure]
    return ErrorAnswer(status, code, message or failure.detail or code, protocol)


def protocol_of(environ: Mapping[str, Any], service: str | None) -> Protocol:
    """The wire protocol of a WSGI request, from its headers, the service it signed for
    (None when unsigned) and its path.

    >>> protocol_of({"HTTP_X_AMZ_TARGET": "AWSEvents.PutEvents"}, None)
    <Protocol.JSON: 'json'>
    >>> protocol_of({"CONTENT_TYPE": "application/x-www-form-urlencoded"}, "sts")
    <Protocol.QUERY: 'query'>
    >>> protocol_of({"PATH_INFO": "/2015-03-31/functions"}, None)
    <Protocol.REST_JSON: 'rest-json'>
    >>> protocol_of({"PATH_INFO": "/bucket/key"}, None)
    <Protocol.REST_XML: 'rest-xml'>
    """
    if environ.get("HTTP_X_AMZ_TARGET"):
        return Protocol.JSON
    if service == "s3":
        return Protocol.REST_XML
    content_type = str(environ.get("CONTENT_TYPE", ""))
    query = str(environ.get("QUERY_STRING", ""))
    if content_type.startswith("application/x-www-form-urlencoded") or \
            query.startswith("Action=") or "&Action=" in query:
        return Protocol.QUERY
    if service is not None or _REST_JSON_PATH.match(str(environ.get("PATH_INFO", ""))):
        return Protocol.REST_JSON
    return Protocol.REST_XML
