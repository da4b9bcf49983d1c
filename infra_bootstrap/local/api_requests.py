"""Request bodies of the local order API front, read as API Gateway reads them.

Chalice's local dev server reads ``Content-Length`` bytes and nothing else: a chunked
body (``Transfer-Encoding: chunked``, no length) reached the app as no body at all, and a
body shorter than its ``Content-Length`` held the connection's thread forever. Here a
chunked body is decoded and honoured, a short or malformed one is a 400 once
:data:`BODY_TIMEOUT_S` passes without data, and a body over API Gateway's 10 MB payload
quota is a 413 (API Gateway Developer Guide, "Amazon API Gateway quotas": payload size
10 MB).

>>> import io
>>> read_body({"Transfer-Encoding": "chunked"}, io.BytesIO(b"4\\r\\nab{}\\r\\n0\\r\\n\\r\\n"))
b'ab{}'
>>> try:
...     read_body({"Content-Length": "10"}, io.BytesIO(b"short"))
... except BodyError as error:
...     print(error.status, error.message)
400 the request body ended after 5 of the 10 bytes its Content-Length announced
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

__all__ = ["BODY_TIMEOUT_S", "MAX_PAYLOAD_BYTES", "BodyError", "handler_class", "read_body"]

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
BODY_TIMEOUT_S = 5.0
_MAX_CHUNK_LINE = 1024


class BodyError(Exception):
    """A request body that cannot be read: the HTTP status and the reason."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{status} {message}")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def read_body(headers: Mapping[str, str], stream: IO[bytes], *,
              max_bytes: int = MAX_PAYLOAD_BYTES) -> bytes | None:
    """The request body (None when there is none); raise BodyError (400/411/413).

    A read that times out (the socket's timeout) is a body shorter than announced.
    """
    try:
        encoding = (_header(headers, "transfer-encoding") or "").strip().lower()
        if encoding:
            if encoding != "chunked":
                raise BodyError(411, f"Transfer-Encoding {encoding!r} is not supported; "
                                "send Content-Length or chunked")
            return _read_chunked(stream, max_bytes)
        length_text = _header(headers, "content-length")
        if length_text is None:
            return None
        if not length_text.strip().isdigit():
            raise BodyError(400, f"Content-Length {length_text!r} is not a whole number")
        length = int(length_text)
        if length > max_bytes:
            raise BodyError(413, f"the request body is {length} bytes; API Gateway accepts "
                            f"at most {max_bytes}")
        if length == 0:
            return None
        data = stream.read(length)
        if len(data) < length:
            raise BodyError(400, f"the request body ended after {len(data)} of the {length} "
                            "bytes its Content-Length announced")
        return data
    except TimeoutError:
        raise BodyError(400, "the request body stopped arriving before its end (shorter "
                        "than its Content-Length?)") from None


def _read_chunked(stream: IO[bytes], max_bytes: int) -> bytes:
    body = bytearray()
    while True:
        line = stream.readline(_MAX_CHUNK_LINE)
        if not line.endswith(b"\n"):
            raise BodyError(400, "the chunked request body ended in a chunk header")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BodyError(400, f"bad chunk size {size_text!r} in the chunked body") from None
        if size == 0:
            break
        if len(body) + size > max_bytes:
            raise BodyError(413, f"the chunked request body exceeds {max_bytes} bytes")
        chunk = stream.read(size)
        if len(chunk) < size or stream.read(2) != b"\r\n":
            raise BodyError(400, "the chunked request body ended inside a chunk")
        body += chunk
    while stream.readline(_MAX_CHUNK_LINE) not in (b"\r\n", b"\n", b""):
        pass  # trailers: not passed on, as API Gateway does not pass them
    return bytes(body)


def handler_class(base: type[Any], *, timeout_s: float = BODY_TIMEOUT_S) -> type[Any]:
    """Chalice's request handler, reading bodies with :func:`read_body` and answering a
    body it cannot read with a JSON error in Chalice's shape ({"Code", "Message"})."""

    class ApiRequestHandler(base):
        timeout = timeout_s  # socket timeout: no thread waits forever on a body

        def _parse_payload(self) -> tuple[dict[str, str], bytes | None]:
            body = read_body(self.headers, self.rfile)
            headers = {k: v for k, v in dict(self.headers).items()
                       if k.lower() != "transfer-encoding"}
            if body is not None:
                headers["Content-Length"] = str(len(body))
            return headers, body

        def _generic_handle(self) -> None:
            try:
                super()._generic_handle()
            except BodyError as error:
                code = {411: "LengthRequired", 413: "PayloadTooLarge"}.get(error.status,
                                                                          "BadRequest")
                payload = json.dumps({"Code": code, "Message": error.message}).encode()
                self.close_connection = True
                self.send_response(error.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)

        # Chalice binds its verbs to the base's _generic_handle: bind them to this one.
        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = (
            _generic_handle)

    return ApiRequestHandler
