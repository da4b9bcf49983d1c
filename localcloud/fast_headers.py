"""HTTP header blocks parsed without the email package, with the same result.

The standard library's ``http.client.parse_headers`` (used by ``http.server`` for every
request the endpoint serves, and by ``http.client`` for every response its own clients
read) hands the header block to ``email.parser.Parser``, whose feed parser was about 30%
of the endpoint's CPU for a DynamoDB GetItem (py-spy, one request at a time). Almost
every header block is plain ``Name: value`` lines, which :func:`parse_headers` turns
into the very ``HTTPMessage`` the email parser builds (same header list, same payload,
no defects). Any block with something else (a folded continuation line, a bare CR inside
a value, a name the email parser would not take as a header) goes to the standard
parser, so odd input is parsed exactly as before. The tests compare both on generated
header blocks.

>>> import io
>>> message = parse_headers(io.BytesIO(b"Host: x\\r\\nX-Amz-Target:  a.B \\r\\n\\r\\nbody"))
>>> message.items()
[('Host', 'x'), ('X-Amz-Target', 'a.B ')]
"""

from __future__ import annotations

import email.parser
import http.client
import re
import threading
from typing import IO, Any

# A header line the email parser takes as one complete header: a name of printable
# ASCII without ':' (its headerRE, email.feedparser), then the value, then the line end;
# no CR or LF inside (its line splitting would break the line there).
_PLAIN_LINE = re.compile(r"([\041-\071\073-\176]+):([^\r\n]*)\r?\n")

_stdlib_parse_headers = http.client.parse_headers
_installed = False
_install_lock = threading.Lock()


def parse_headers(fp: IO[bytes], _class: Any = http.client.HTTPMessage) -> Any:
    """``http.client.parse_headers`` with a fast path for plain header lines."""
    lines = http.client._read_headers(fp)  # type: ignore[attr-defined]
    text = b"".join(lines).decode("iso-8859-1")
    headers = _plain_headers(lines)
    if headers is None:
        return email.parser.Parser(_class=_class).parsestr(text)
    message = _class()
    message._headers = headers
    message._payload = ""
    return message


def _plain_headers(lines: list[bytes]) -> list[tuple[str, str]] | None:
    """The (name, value) pairs the email parser would make, or None if any line is not a
    plain header line. Values as compat32 stores them: leading blanks dropped."""
    headers = []
    for raw in lines[:-1]:
        match = _PLAIN_LINE.fullmatch(raw.decode("iso-8859-1"))
        if match is None:  # (a "From " envelope line cannot match: no blank in a name)
            return None
        headers.append((match.group(1), match.group(2).lstrip(" \t")))
    if lines and lines[-1] not in (b"\r\n", b"\n", b""):
        return None
    return headers


def install() -> None:
    """Make ``http.client.parse_headers`` (and so ``http.server``) use the fast path."""
    global _installed
    with _install_lock:
        if not _installed:
            http.client.parse_headers = parse_headers  # type: ignore[assignment]
            _installed = True
