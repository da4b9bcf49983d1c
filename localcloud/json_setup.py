"""moto's per-request setup for a DynamoDB request, without the parts that cannot apply.

moto's ``BaseResponse.setup_class`` prepares every request of every service the same
way (moto 5.2.5, ``moto/core/responses.py``): it parses form fields and uploaded files,
reads the *body* as a URL query string (``parse_qsl`` over the whole JSON text), decodes
that dict, and only then parses the parameters from the JSON body with botocore's model.
For a DynamoDB GetItem that setup was a fifth of the endpoint's CPU, more than the
GetItem itself (py-spy, ``--gil``). :func:`dispatch` gives moto's DynamoDB handler the
same attributes for a plain JSON request and then runs moto's own ``call_action``: the
same action method, parameter parser, error handling and serializer.

What differs is deliberate and only for the better: moto reads a JSON body as a query
string, so a string value such as ``"a&Action=DeleteTable&"`` in an item picked the
action; here, as on AWS, the ``X-Amz-Target`` header alone names it
(:mod:`localcloud.moto_fixes` stops moto's own path reading the body that way too). A
request this module is not sure about (another content type, a compressed body, a query
string, no SigV4 ``Authorization`` header, moto's IAM checks switched on, an account
chosen by ``MOTO_ACCOUNT_ID`` or ``x-moto-account-id``) goes through ``setup_class``
unchanged. The tests send the same requests both ways and compare the answers byte for
byte.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any
from urllib.parse import urlparse

from moto import settings
from moto.core.request import Request
from moto.dynamodb.responses import DynamoHandler
from moto.iam.models import mark_account_as_visited
from moto.utilities.utils import get_partition
from werkzeug.datastructures import ImmutableMultiDict

# DynamoDB's protocol (awsJson1_0); its X-Amz-Target is "DynamoDB_20120810.<Action>".
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET_PREFIX = "DynamoDB_20120810."
# A Host header that werkzeug's URL building leaves as it is (no escapes, no Unicode).
_PLAIN_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_NO_FORM: ImmutableMultiDict[str, str] = ImmutableMultiDict()


def dispatch(request: Request) -> Any:
    """``DynamoHandler.dispatch`` as moto's Flask view calls it: the same answer, with
    :func:`prepare` as its setup when it applies."""
    handler = DynamoHandler()
    if not prepare(handler, request):
        return handler._dispatch(request, request.raw_url, dict(request.headers))
    return handler.call_action()


def applies(request: Request) -> bool:
    """Can :func:`prepare` set this request up exactly as ``setup_class`` would?"""
    target = request.headers.get("X-Amz-Target") or ""
    return (request.method == "POST"
            and (request.content_type or "").startswith(JSON_CONTENT_TYPE)
            and not request.content_encoding
            and not request.query_string
            and request.path == "/" and not request.root_path
            and _PLAIN_HOST.fullmatch(request.headers.get("Host") or "") is not None
            and target.startswith(TARGET_PREFIX)
            and "AWS4" in (request.headers.get("Authorization") or "")
            and "x-moto-account-id" not in request.headers
            and "MOTO_ACCOUNT_ID" not in os.environ
            and not _moto_checks_iam())


def _moto_checks_iam() -> bool:
    """Has moto been told to check IAM policies (INITIAL_NO_AUTH_ACTION_COUNT set)?"""
    return not math.isinf(settings.INITIAL_NO_AUTH_ACTION_COUNT)


def prepare(handler: Any, request: Request) -> bool:
    """Set ``handler`` up for ``request`` as ``setup_class`` would; False (nothing set)
    when :func:`applies` says no."""
    if not applies(request):
        return False
    # request.raw_url, without werkzeug's IRI decoding, which a plain host does not need.
    full_url = f"{request.scheme}://{request.host}/"
    raw_body = request.get_data()
    parsed_url = urlparse(full_url)
    handler.is_werkzeug_request = request.from_wsgi_server
    handler.normalized_request = request
    handler.parsed_url = parsed_url
    handler.form_data = _NO_FORM  # a JSON body is no form (moto reads it for S3 only)
    handler.raw_body = raw_body
    handler.body = raw_body.decode("utf-8")
    handler.uri = full_url
    handler.path = parsed_url.path
    handler.raw_path = request.raw_path
    handler.querystring = handler.data = {}
    handler.method = request.method
    handler.region = handler.get_region_from_url(request, full_url)
    handler.partition = get_partition(handler.region)
    handler.uri_match = {}
    handler.headers = request.headers
    handler.response_headers = {"server": "amazon.com"}
    if not handler.is_werkzeug_request:
        from moto.core.utils import utcnow
        from werkzeug.http import http_date
        handler.response_headers["date"] = http_date(utcnow())
    if handler.automated_parameter_parsing:
        handler.parse_parameters(request)
    handler.access_key = handler.get_access_key()
    handler.current_account = handler.get_current_account()
    mark_account_as_visited(account_id=handler.current_account, access_key=handler.access_key,
                            service=handler.service_name, region=handler.region)
    return True
