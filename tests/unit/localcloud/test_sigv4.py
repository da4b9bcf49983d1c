"""SigV4 verification: AWS's published test vector, and every kind of request botocore
signs (JSON, query, REST with encoded paths, S3 with a declared payload hash, presigned
URLs) verified as signed, and refused once anything signed is changed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from localcloud.sigv4 import (
    AuthFailure,
    Failure,
    WireRequest,
    amz_datetime,
    canonical_uri,
    check_time,
    parse,
    verify,
)

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
KEYS = Credentials("AKIDEXAMPLE", SECRET)


def wire(request: AWSRequest) -> WireRequest:
    """The request as the endpoint receives it, from what botocore would send."""
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    headers = {name.lower(): [value.decode() if isinstance(value, bytes) else value]
               for name, value in prepared.headers.items()}
    headers.setdefault("host", [url.netloc])
    body = prepared.body or b""
    return WireRequest(prepared.method, url.path, url.query, headers,
                       body.encode() if isinstance(body, str) else body)


def signed(method: str, url: str, *, service: str, body: bytes = b"",
           headers: dict[str, str] | None = None, auth: type[SigV4Auth] = SigV4Auth,
           token: str | None = None) -> WireRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    auth(Credentials("AKIDEXAMPLE", SECRET, token), service, "eu-west-1").add_auth(request)
    return wire(request)


CASES = {
    "json": lambda: signed("POST", "http://127.0.0.1:4566/", service="events",
                           body=b'{"Entries": []}',
                           headers={"X-Amz-Target": "AWSEvents.PutEvents",
                                    "Content-Type": "application/x-amz-json-1.1"}),
    "query": lambda: signed("POST", "http://127.0.0.1:4566/", service="sts",
                            body=b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr",
                            headers={"Content-Type": "application/x-www-form-urlencoded"}),
    "rest-json path with an ARN": lambda: signed(
        "POST", "http://127.0.0.1:4566/2015-03-31/functions/"
        "arn%3Aaws%3Alambda%3Aeu-west-1%3A1%3Afunction%3Af/invocations?Qualifier=%24LATEST",
        service="lambda", body=b"{}"),
    "query string with spaces and repeats": lambda: signed(
        "GET", "http://127.0.0.1:4566/?b=x%20y&a=2&a=1&empty=", service="iam"),
    "session token": lambda: signed("POST", "http://127.0.0.1:4566/", service="logs",
                                    body=b"{}", token="the-session-token"),
    "s3 with a declared payload hash": lambda: signed(
        "PUT", "http://127.0.0.1:4566/bucket/a%20key", service="s3", body=b"data",
        auth=S3SigV4Auth),
}


@pytest.mark.parametrize("case", CASES)
def test_what_botocore_signs_is_verified_with_the_right_secret_only(case: str) -> None:
    request = parse(CASES[case]())

    assert verify(request, SECRET)
    assert not verify(request, SECRET[:-1] + "X")


@pytest.mark.parametrize("case", CASES)
def test_changing_anything_signed_breaks_the_signature(case: str) -> None:
    original = CASES[case]()
    date = original.header("x-amz-date") or ""
    later = date[:-3] + ("01Z" if not date.endswith("01Z") else "02Z")
    tampered = [
        WireRequest(original.method, original.raw_path + "x", original.raw_query,
                    original.headers, original.body),
        WireRequest(original.method, original.raw_path, original.raw_query + "&extra=1",
                    original.headers, original.body),
        original.with_header("x-amz-date", later),
        WireRequest("DELETE", original.raw_path, original.raw_query, original.headers,
                    original.body),
    ]
    if original.header("x-amz-content-sha256") is None:  # S3 signs the declared hash
        tampered.append(WireRequest(original.method, original.raw_path, original.raw_query,
                                    original.headers, original.body + b" "))

    assert [verify(parse(request), SECRET) for request in tampered] == [False] * len(tampered)


def test_a_presigned_url_is_verified_from_its_query() -> None:
    request = AWSRequest(method="GET", url="http://127.0.0.1:4566/bucket/key")
    S3SigV4QueryAuth(KEYS, "s3", "eu-west-1", expires=60).add_auth(request)
    presigned = wire(request)

    claim = parse(presigned)

    assert claim.presigned and claim.access_key == "AKIDEXAMPLE"
    assert verify(claim, SECRET)
    forged = WireRequest("GET", "/bucket/other", presigned.raw_query, presigned.headers, b"")
    assert not verify(parse(forged), SECRET)


@pytest.mark.parametrize("token", [None, "session-token"])
def test_an_s3_signature_version_2_presigned_url_is_verified(token: str | None) -> None:
    request = AWSRequest(method="GET", url="http://127.0.0.1:4566/bucket/a%20key"
                         "?response-content-type=text%2Fplain")
    HmacV1QueryAuth(Credentials("AKIDEXAMPLE", SECRET, token), expires=60).add_auth(request)
    presigned = wire(request)

    claim = parse(presigned)

    assert (claim.version, claim.access_key, claim.security_token) == (2, "AKIDEXAMPLE", token)
    assert verify(claim, SECRET)
    assert not verify(claim, "another secret")
    other_key = WireRequest("GET", "/bucket/other", presigned.raw_query, presigned.headers, b"")
    assert not verify(parse(other_key), SECRET)
    check_time(claim, datetime.now(UTC))
    with pytest.raises(AuthFailure) as expired:
        check_time(claim, datetime.now(UTC) + timedelta(seconds=120))
    assert expired.value.failure is Failure.EXPIRED


def test_a_request_without_a_signature_is_missing_its_authentication() -> None:
    with pytest.raises(AuthFailure) as missing:
        parse(WireRequest("GET", "/", "", {"host": ["h"]}, b""))

    assert missing.value.failure is Failure.MISSING


@pytest.mark.parametrize("authorization", [
    "AWS AKIDEXAMPLE:c2lnbmF0dXJl",  # Signature Version 2
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/us-east-1/aws4_request, SignedHeaders=host, "
    "Signature=ab",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=x-amz-date, Signature=ab",
])
def test_a_signature_that_does_not_conform_is_incomplete(authorization: str) -> None:
    request = WireRequest("GET", "/", "", {"host": ["h"], "x-amz-date": ["20150830T123600Z"],
                                           "authorization": [authorization]}, b"")

    with pytest.raises(AuthFailure) as incomplete:
        parse(request)

    assert incomplete.value.failure is Failure.INCOMPLETE


def test_a_request_signed_more_than_15_minutes_away_has_expired() -> None:
    claim = parse(CASES["json"]())
    signed_at = datetime.strptime(claim.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    check_time(claim, signed_at + timedelta(minutes=14))
    check_time(claim, signed_at - timedelta(minutes=14))
    for skew in (timedelta(minutes=16), timedelta(minutes=-16)):
        with pytest.raises(AuthFailure) as expired:
            check_time(claim, signed_at + skew)
        assert expired.value.failure is Failure.EXPIRED


def test_only_s3_signs_its_path_as_sent() -> None:
    assert canonical_uri("/a/../b//c%2Fd", s3=False) == "/b/c%252Fd"
    assert canonical_uri("/a/../b//c%2Fd", s3=True) == "/a/../b//c%2Fd"


def test_x_amz_date_is_read_as_strptime_reads_it_valid_or_not() -> None:
    rng = random.Random(5)
    for _ in range(5000):
        digits = "".join(rng.choice("0123456789") for _ in range(14))
        text = f"{digits[:8]}T{digits[8:]}Z"
        try:
            expected: object = datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            expected = ValueError
        try:
            got: object = amz_datetime(text)
        except ValueError:
            got = ValueError
        assert got == expected, text
