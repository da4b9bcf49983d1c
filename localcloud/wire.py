"""A WSGI request as it arrived on the wire: the raw (still percent-encoded) path and
query, the headers by lower-case name, and the body, read once and put back for the app
behind (moto reads ``wsgi.input`` again).

>>> import io
>>> environ = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/a%3Ab?x=1", "PATH_INFO": "/a:b",
...            "QUERY_STRING": "x=1", "HTTP_HOST": "127.0.0.1", "CONTENT_LENGTH": "2",
...            "CONTENT_TYPE": "text/plain", "wsgi.input": io.BytesIO(b"hi")}
>>> request = wire_request(environ)
>>> request.raw_path, request.raw_query, request.header("content-type"), request.body
('/a%3Ab', 'x=1', 'text/plain', b'hi')
>>> environ["wsgi.input"].read()
b'hi'
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote, urlsplit

from localcloud.sigv4 import WireRequest


def read_body(environ: dict[str, Any]) -> bytes:
    """The whole body (by Content-Length, or to the end of a chunked one), put back into
    ``wsgi.input`` for the app behind."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def wire_request(environ: dict[str, Any], *, with_body: bool = True) -> WireRequest:
    """The request as signed: raw path and query from the request line (werkzeug's
    ``REQUEST_URI``), headers from the environ; the body only when ``with_body``."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw:
        if not raw.startswith("/"):  # absolute-form request target
            split = urlsplit(raw)
            raw = split.path + (f"?{split.query}" if split.query else "")
        raw_path, _, raw_query = raw.partition("?")
    else:
        raw_path = quote(environ.get("PATH_INFO", "") or "/", safe="/~!$&'()*+,;=:@")
        raw_query = environ.get("QUERY_STRING", "")
    headers: dict[str, list[str]] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].lower().replace("_", "-")] = [value]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.lower().replace("_", "-")] = [environ[key]]
    body = read_body(environ) if with_body else b""
    return WireRequest(environ.get("REQUEST_METHOD", "GET"), raw_path, raw_query, headers,
                       body)
