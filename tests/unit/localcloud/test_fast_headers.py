"""fast_headers.parse_headers builds the same HTTPMessage as the standard library's
email-based parser, for plain header blocks and for every odd one it hands back."""

from __future__ import annotations

import email.parser
import http.client
import io
import random

import pytest

from localcloud.fast_headers import parse_headers


def _stdlib(block: bytes) -> http.client.HTTPMessage:
    lines = http.client._read_headers(io.BytesIO(block))  # type: ignore[attr-defined]
    text = b"".join(lines).decode("iso-8859-1")
    return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)


def _same(block: bytes) -> None:
    fast, slow = parse_headers(io.BytesIO(block)), _stdlib(block)
    assert type(fast) is type(slow)
    assert {k: v for k, v in vars(fast).items() if k != "defects"} == \
        {k: v for k, v in vars(slow).items() if k != "defects"}
    assert [type(d) for d in fast.defects] == [type(d) for d in slow.defects]
    assert fast.items() == slow.items() and fast.get_payload() == slow.get_payload()


@pytest.mark.parametrize("block", [
    b"Host: 127.0.0.1:4566\r\nContent-Type: application/x-amz-json-1.0\r\n"
    b"X-Amz-Target: DynamoDB_20120810.GetItem\r\nContent-Length: 10\r\n\r\n{}",
    b"\r\n",                                   # no headers at all
    b"",                                       # the connection ended
    b"A:b\n\n",                                # bare LF line ends
    b"A: \t spaced value \t\r\n\r\n",          # leading blanks dropped, trailing kept
    b"A:\r\nB:   \r\n\r\n",                    # empty values
    b"Dup: 1\r\nDup: 2\r\n\r\n",               # repeated names keep their order
    b"A: folded\r\n  continuation\r\n\r\n",    # obsolete folding: the email parser's way
    b"\tfirst line is a continuation\r\nA: b\r\n\r\n",
    b": no name\r\nA: b\r\n\r\n",
    b"From someone\r\nA: b\r\n\r\n",           # a unix-from envelope line
    b"A: b\r\nFrom x\r\n\r\n",
    b"Bad Name: v\r\nA: b\r\n\r\n",            # a blank in the name: not a header line
    b"A: bare\rCR inside\r\nB: c\r\n\r\n",     # the email parser splits lines at a bare CR
    b"A: latin \xe9\xff\r\n\r\n",              # iso-8859-1 values
    b"no colon at all\r\n\r\n",
])
def test_a_header_block_parses_as_the_standard_library_parses_it(block: bytes) -> None:
    _same(block)


def test_generated_header_blocks_parse_as_the_standard_library_parses_them() -> None:
    # Mostly well-formed lines (the fast path) with odd ones mixed in (the fallback).
    odd = [b":", b" ", b"\t", b"\r", b"\xe9", b"From ", b"\x00"]
    plain = [b"a", b"Z", b"-", b"9", b"_", b"~"]
    rng = random.Random(13)

    def text(length: int, oddness: float) -> bytes:
        return b"".join(rng.choice(odd if rng.random() < oddness else plain)
                        for _ in range(rng.randrange(0, length)))

    for _ in range(3000):
        lines = [(text(6, 0.02) + b":" + text(10, 0.1) if rng.random() < 0.9
                  else text(12, 0.5)) + rng.choice([b"\r\n", b"\n"])
                 for _ in range(rng.randrange(0, 5))]
        _same(b"".join(lines) + b"\r\n" + b"tail")


def test_the_rest_of_the_stream_is_left_for_the_body() -> None:
    stream = io.BytesIO(b"A: b\r\n\r\nthe body")
    parse_headers(stream)
    assert stream.read() == b"the body"
