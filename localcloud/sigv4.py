"""AWS Signature Version 4, verified: the ``Authorization`` header and presigned query
strings, as AWS's "Signature Version 4 signing process" (IAM User Guide, "Create a signed
AWS API request" and "Elements of an AWS API request signature") defines them; and the
Signature Version 2 presigned query S3 still accepts (``AWSAccessKeyId``, ``Expires``,
``Signature``: what boto3's ``generate_presigned_url`` makes for S3 unless told
``signature_version="s3v4"``; Amazon S3 User Guide, "Authenticating requests using query
parameters (AWS signature version 2)"). Pure.

A request is first *parsed* (:func:`parse`: who claims to sign, for which date, region and
service, which headers, which signature), then *verified* once the secret of its access
key is known (:func:`verify`): the canonical request is rebuilt from what arrived on the
wire and signed again with the secret.

AWS's own test vector ("get-vanilla", aws-sig-v4-test-suite, used by botocore's tests):

>>> request = WireRequest("GET", "/", "", {"host": ["example.amazonaws.com"],
...     "x-amz-date": ["20150830T123600Z"]}, b"")
>>> signed = parse(request.with_header("authorization",
...     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
...     "SignedHeaders=host;x-amz-date, "
...     "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"))
>>> signed.access_key, signed.region, signed.service
('AKIDEXAMPLE', 'us-east-1', 'service')
>>> verify(signed, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
True
>>> verify(signed, "another secret")
False
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# "The request reached the service more than 15 minutes after the date stamp on the
# request ... or the date stamp on the request is more than 15 minutes in the future"
# (Common Errors, RequestExpired).
MAX_SKEW = timedelta(minutes=15)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_FIELD = re.compile(r"(\w+)=([^,]*)")
_SPACES = re.compile(r"\s+")
# Characters left as they are by SigV4's URI encoding (RFC 3986 unreserved).
_UNRESERVED = "-_.~"
# The query parameters S3's Signature Version 2 signs as sub-resources (botocore's list).
_V2_SUBRESOURCES = frozenset({
    "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
    "lifecycle", "location", "logging", "metrics", "notification", "object-lock",
    "partNumber", "policy", "replication", "requestPayment", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "response-content-language",
    "response-content-type", "response-expires", "restore", "select", "select-type",
    "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
    "versions", "website"})


class Failure(Enum):
    """Why a request is not authenticated; the gateway answers each in its protocol's
    words (:mod:`localcloud.auth_errors`)."""

    MISSING = "missing"              # no Authorization header, no presigned query
    INCOMPLETE = "incomplete"        # a signature that does not conform to SigV4
    UNKNOWN_KEY = "unknown key"      # an access key the local cloud never issued
    BAD_TOKEN = "bad token"          # temporary credentials with a wrong or no session token
    BAD_SIGNATURE = "bad signature"  # the signature does not match
    EXPIRED = "expired"              # date outside the 15-minute window, or presign expired


class AuthFailure(Exception):
    """A request that is not authenticated, and why (``failure``, ``detail``)."""

    def __init__(self, failure: Failure, detail: str = "") -> None:
        super().__init__(f"{failure.value}: {detail}" if detail else failure.value)
        self.failure = failure
        self.detail = detail


@dataclass(frozen=True)
class WireRequest:
    """A request as it arrived: method, the raw (still percent-encoded) path and query,
    headers by lower-case name (each with its values in order) and the body."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, Sequence[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return ",".join(values) if values else None

    def with_header(self, name: str, value: str) -> WireRequest:
        return replace(self, headers={**self.headers, name: [value]})


@dataclass(frozen=True)
class SignedRequest:
    """What a request claims: its access key, credential scope, signed headers and
    signature, and where the signature travels (header or presigned query)."""

    request: WireRequest
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    presigned: bool
    security_token: str | None
    expires_s: int | None = None
    query: tuple[tuple[str, str], ...] = field(default=())
    version: int = 4

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


# --- parsing ---------------------------------------------------------------------------


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    """The query's (name, value) pairs, percent-decoded (``+`` is kept: SigV4 clients
    encode a space as ``%20``).

    >>> parse_query("b=2&a=x%2Fy&flag")
    [('b', '2'), ('a', 'x/y'), ('flag', '')]
    """
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def parse(request: WireRequest) -> SignedRequest:
    """The signature a request carries, or AuthFailure (MISSING or INCOMPLETE)."""
    query = parse_query(request.raw_query)
    names = {name for name, _ in query}
    if "X-Amz-Signature" in names or "X-Amz-Credential" in names:
        return _parse_presigned(request, query)
    if "AWSAccessKeyId" in names and "Signature" in names:
        return _parse_presigned_v2(request, query)
    header = request.header("authorization")
    if header is None:
        raise AuthFailure(Failure.MISSING)
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise AuthFailure(Failure.INCOMPLETE, f"unsupported algorithm {algorithm!r}: only "
                          f"{ALGORITHM} (Signature Version 4) is accepted")
    fields = {name: value.strip() for name, value in _FIELD.findall(rest)}
    missing = [name for name in ("Credential", "SignedHeaders", "Signature")
               if not fields.get(name)]
    if missing:
        raise AuthFailure(Failure.INCOMPLETE, "Authorization header requires "
                          + ", ".join(f"'{name}'" for name in missing) + " parameter")
    amz_date = request.header("x-amz-date") or ""
    return _signed(request, fields["Credential"], fields["SignedHeaders"],
                   fields["Signature"], amz_date, presigned=False,
                   token=request.header("x-amz-security-token"), expires=None, query=query)


def _parse_presigned(request: WireRequest, query: list[tuple[str, str]]) -> SignedRequest:
    values = dict(query)
    if values.get("X-Amz-Algorithm") != ALGORITHM:
        raise AuthFailure(Failure.INCOMPLETE, "X-Amz-Algorithm must be " + ALGORITHM)
    missing = [name for name in ("X-Amz-Credential", "X-Amz-SignedHeaders",
                                 "X-Amz-Signature", "X-Amz-Date") if not values.get(name)]
    if missing:
        raise AuthFailure(Failure.INCOMPLETE, "the presigned query requires "
                          + ", ".join(missing))
    try:
        expires = int(values.get("X-Amz-Expires", "604800"))
    except ValueError:
        raise AuthFailure(Failure.INCOMPLETE, "X-Amz-Expires must be a number") from None
    return _signed(request, values["X-Amz-Credential"], values["X-Amz-SignedHeaders"],
                   values["X-Amz-Signature"], values["X-Amz-Date"], presigned=True,
                   token=values.get("X-Amz-Security-Token"), expires=expires, query=query)


def _parse_presigned_v2(request: WireRequest, query: list[tuple[str, str]]) -> SignedRequest:
    values = dict(query)
    try:
        expires = int(values.get("Expires", ""))
    except ValueError:
        raise AuthFailure(Failure.INCOMPLETE, "Expires must be a number of seconds since "
                          "the epoch") from None
    return SignedRequest(request, values["AWSAccessKeyId"], "", "us-east-1", "s3", (),
                         values["Signature"], "", True,
                         values.get("x-amz-security-token"), expires, tuple(query), 2)


def _signed(request: WireRequest, credential: str, signed_headers: str, signature: str,
            amz_date: str, *, presigned: bool, token: str | None, expires: int | None,
            query: list[tuple[str, str]]) -> SignedRequest:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise AuthFailure(Failure.INCOMPLETE, f"Credential should be scoped to a valid "
                          f"region, service and date: {credential!r}")
    access_key, date, region, service, _ = parts
    if not amz_date:
        raise AuthFailure(Failure.INCOMPLETE, "the request has no X-Amz-Date")
    headers = tuple(signed_headers.lower().split(";"))
    if "host" not in headers:
        raise AuthFailure(Failure.INCOMPLETE, "the Host header must be signed")
    return SignedRequest(request, access_key, date, region, service, headers, signature,
                         amz_date, presigned, token, expires, tuple(query))


# --- verification ----------------------------------------------------------------------


def check_time(signed: SignedRequest, now: datetime) -> None:
    """AuthFailure(EXPIRED) if the request's date is more than 15 minutes from ``now``, or
    a presigned request's X-Amz-Expires has passed; INCOMPLETE for a malformed date.

    >>> signed = SignedRequest(WireRequest("GET", "/", "", {}, b""), "k", "20250101",
    ...     "r", "s", ("host",), "x", "20250101T000000Z", False, None)
    >>> check_time(signed, datetime(2025, 1, 1, 0, 14, tzinfo=UTC))
    >>> try:
    ...     check_time(signed, datetime(2025, 1, 1, 0, 16, tzinfo=UTC))
    ... except AuthFailure as failure:
    ...     print(failure.detail)
    Signature expired: 20250101T000000Z is now earlier than 20250101T000100Z \
(20250101T001600Z - 15 min.)
    """
    if signed.version == 2:  # Expires is the moment the URL stops working
        if now.timestamp() > (signed.expires_s or 0):
            raise AuthFailure(Failure.EXPIRED, "Request has expired")
        return
    try:
        signed_at = amz_datetime(signed.amz_date)
    except ValueError:
        raise AuthFailure(Failure.INCOMPLETE, f"X-Amz-Date {signed.amz_date!r} is not an "
                          "ISO 8601 basic timestamp (YYYYMMDDTHHMMSSZ)") from None
    if signed.presigned:
        if now > signed_at + timedelta(seconds=signed.expires_s or 0):
            raise AuthFailure(Failure.EXPIRED, "Request has expired")
        return
    # botocore's wording of AWS's answer (the time window of the Common Errors page).
    if now - signed_at > MAX_SKEW:
        raise AuthFailure(Failure.EXPIRED, f"Signature expired: {signed.amz_date} is now "
                          f"earlier than {(now - MAX_SKEW).strftime(_AMZ_DATE)} "
                          f"({now.strftime(_AMZ_DATE)} - 15 min.)")
    if signed_at - now > MAX_SKEW:
        raise AuthFailure(Failure.EXPIRED, f"Signature not yet current: {signed.amz_date} is "
                          f"still later than {(now + MAX_SKEW).strftime(_AMZ_DATE)} "
                          f"({now.strftime(_AMZ_DATE)} + 15 min.)")


def verify(signed: SignedRequest, secret: str) -> bool:
    """Does the signature match the one ``secret`` gives this request? Constant-time."""
    expected = signature_v2(signed, secret) if signed.version == 2 else signature(signed, secret)
    return hmac.compare_digest(expected.encode(), signed.signature.encode())


_BASIC_TIMESTAMP = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")


def amz_datetime(text: str) -> datetime:
    """X-Amz-Date as a UTC datetime; ValueError if it is not one. The usual 16-character
    form is read directly (``strptime`` was 5% of a request's CPU), any other goes to
    ``strptime``, which also takes shorter fields.

    >>> amz_datetime("20250102T030405Z")
    datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    >>> amz_datetime("2025112T1111Z").isoformat()
    '2025-11-02T11:01:01+00:00'
    """
    parts = _BASIC_TIMESTAMP.fullmatch(text)
    if parts is None:
        return datetime.strptime(text, _AMZ_DATE).replace(tzinfo=UTC)
    year, month, day, hour, minute, second = map(int, parts.groups())
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def signature_v2(signed: SignedRequest, secret: str) -> str:
    """S3's Signature Version 2 of a presigned URL: base64 HMAC-SHA1 of the method, the
    Content-MD5 and Content-Type, Expires, the ``x-amz-*`` parameters and the resource."""
    values = dict(signed.query)
    amz = sorted((name.lower(), value) for name, value in signed.query
                 if name.lower().startswith("x-amz-"))
    subresources = sorted((name, value) for name, value in signed.query
                          if name in _V2_SUBRESOURCES)
    resource = signed.request.raw_path + ("?" + "&".join(
        f"{name}={value}" if value else name for name, value in subresources)
        if subresources else "")
    text = "\n".join([signed.request.method.upper(), values.get("content-md5", ""),
                      values.get("content-type", ""), str(signed.expires_s)]) + "\n"
    text += "".join(f"{name}:{value}\n" for name, value in amz) + resource
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature(signed: SignedRequest, secret: str) -> str:
    """The hex signature of the request under ``secret``."""
    key = signing_key(secret, signed.date, signed.region, signed.service)
    return hmac.new(key, string_to_sign(signed).encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
    "aws4_request"); the same for a day, so remembered (as the SDKs remember it)."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def string_to_sign(signed: SignedRequest) -> str:
    return "\n".join([ALGORITHM, signed.amz_date, signed.scope,
                      hashlib.sha256(canonical_request(signed).encode()).hexdigest()])


def canonical_request(signed: SignedRequest) -> str:
    """Method, canonical URI, canonical query, canonical headers, signed headers and the
    payload hash, one per line."""
    request = signed.request
    return "\n".join([
        request.method.upper(),
        canonical_uri(request.raw_path, s3=signed.service == "s3"),
        canonical_query(signed.query, presigned=signed.presigned),
        "".join(f"{name}:{canonical_header_value(request.headers.get(name, ()))}\n"
                for name in signed.signed_headers),
        ";".join(signed.signed_headers),
        payload_hash(signed),
    ])


def canonical_uri(raw_path: str, *, s3: bool) -> str:
    """The path as signed. S3 signs the path as sent; every other service normalizes it
    (no ``.``/``..`` segments, no double slashes) and URI-encodes it once more ("each path
    segment must be URI-encoded twice, except for Amazon S3").

    >>> canonical_uri("/2015-03-31/functions/arn%3Aaws%3Alambda/invocations", s3=False)
    '/2015-03-31/functions/arn%253Aaws%253Alambda/invocations'
    >>> canonical_uri("/bucket/a%20b", s3=True), canonical_uri("", s3=False)
    ('/bucket/a%20b', '/')
    """
    path = raw_path or "/"
    if s3:
        return path
    return quote(remove_dot_segments(path), safe="/~")


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, and consecutive slashes made one (as AWS and botocore do).

    >>> remove_dot_segments("/a/./b/../c//d/")
    '/a/c/d/'
    """
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and kept else ""
    return first + "/".join(kept) + last


def canonical_query(query: Sequence[tuple[str, str]], *, presigned: bool) -> str:
    """Every parameter (but the signature itself when presigned), URI-encoded, sorted.

    >>> canonical_query([("b", "x y"), ("a", "2"), ("a", "1")], presigned=False)
    'a=1&a=2&b=x%20y'
    """
    pairs = sorted((quote(name, safe=_UNRESERVED), quote(value, safe=_UNRESERVED))
                   for name, value in query
                   if not (presigned and name == "X-Amz-Signature"))
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_header_value(values: Sequence[str]) -> str:
    """Values trimmed, inner runs of spaces made one, several values joined by commas.

    >>> canonical_header_value(["  a   b ", "c"])
    'a b,c'
    """
    return ",".join(_SPACES.sub(" ", value.strip()) for value in values)


def payload_hash(signed: SignedRequest) -> str:
    """The hash the signature covers: ``X-Amz-Content-SHA256`` when the client sent one
    (S3), ``UNSIGNED-PAYLOAD`` for a presigned URL without it, else SHA-256 of the body."""
    request = signed.request
    declared = request.header("x-amz-content-sha256")
    if declared:
        return declared
    if signed.presigned:
        return dict(signed.query).get("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD)
    return hashlib.sha256(request.body).hexdigest()
