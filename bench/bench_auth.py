"""Micro-benchmark: the cost of authenticating one request (figures printed, not asserted).

Signs PutEvents requests with botocore (plain local keys, and STS session credentials of
an assumed role), then times the endpoint's check of each: parse the SigV4 header,
check its time, find the credential, rebuild the canonical request, hash the body, sign
again and compare. Compared with what botocore spends signing the same request.

Run: .venv/bin/python bench/bench_auth.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from localcloud.identity import Authenticator
from localcloud.moto_state import MotoState
from localcloud.sigv4 import WireRequest
from localcloud.sts import LocalSts

URL = "http://127.0.0.1:4566/"
ROLE = "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"


def put_events_body(size: int) -> bytes:
    detail = json.dumps({"data": {"pad": "x" * max(0, size - 200)}, "meta": {}})
    return json.dumps({"Entries": [{"Source": "order-service", "DetailType": "Order.Created",
                                    "Detail": detail, "EventBusName": "global-bus"}]}).encode()


def signed(body: bytes, credentials: Credentials) -> tuple[AWSRequest, WireRequest]:
    request = AWSRequest(method="POST", url=URL, data=body, headers={
        "X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(credentials, "events", "eu-west-1").add_auth(request)
    prepared = request.prepare()
    headers = {name.lower(): [str(value)] for name, value in prepared.headers.items()}
    headers["host"] = [urlsplit(URL).netloc]
    return request, WireRequest("POST", "/", "", headers, body)


def rate(seconds: float, work: Callable[[], object]) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(100):
            work()
        count += 100
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    state = MotoState()
    authenticator = Authenticator(state)
    session = LocalSts(state)
    session.ensure_organization_role(ROLE)
    issued = state.issue_session(ROLE, "bench", 3600)
    kinds = {
        "plain local key": Credentials("local", "local"),
        "assumed-role session": Credentials(issued.access_key, issued.secret,
                                            issued.session_token),
    }
    print(f"cores: {os.cpu_count()} (shared machine); one thread")
    for size in (1024, 256 * 1024):
        body = put_events_body(size)
        for kind, credentials in kinds.items():
            _, request = signed(body, credentials)
            identity = authenticator.authenticate(request)
            def verify(r: WireRequest = request) -> object:
                return authenticator.authenticate(r)

            per_second = rate(args.seconds, verify)

            def sign(b: bytes = body, c: Credentials = credentials) -> object:
                return signed(b, c)

            signing = rate(args.seconds, sign)
            print(f"{size // 1024:>4} KB body, {kind:<21} ({identity.account}): "
                  f"{per_second:>9,.0f} verifications/s = {1e6 / per_second:7.1f} us each; "
                  f"botocore signs {signing:>8,.0f}/s ({per_second / signing:4.1f}x)")


if __name__ == "__main__":
    main()
