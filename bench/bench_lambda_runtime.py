"""The local Lambda runtime: cold start, warm invoke latency, invokes per second.

Starts the local endpoint in this process (port 0), creates a Python function from a zip
through the Lambda API (boto3), and measures through the Invoke API as a user would:

- cold start: the first Invoke after each UpdateFunctionConfiguration (a new function
  version's first worker: interpreter start, handler import, role credentials);
- warm latency: sequential Invokes on a warm worker (median, p95);
- throughput: RequestResponse Invokes from ``--threads`` client threads (the pool runs
  up to 4 workers per function).

Stock moto runs Lambda functions in Docker only, so there is no stock figure to compare
with on a Docker-less machine; the figures stand alone.

Usage: python bench/bench_lambda_runtime.py [--cold 5] [--warm 200] [--calls 400] [--threads 4]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from localcloud.endpoint import Endpoint  # noqa: E402

REGION = "eu-west-1"
ACCOUNT = "444444444444"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
CODE = "import json\n\ndef handler(event, context):\n    return {'n': event.get('n')}\n"


def _clients(url: str) -> tuple[object, object]:
    base = boto3.client("sts", endpoint_url=url, region_name=REGION,
                        aws_access_key_id="bench", aws_secret_access_key="bench")
    creds = base.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/Admin",
                             RoleSessionName="bench")["Credentials"]
    session = boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"], region_name=REGION)
    config = boto3.session.Config(max_pool_connections=32, retries={"max_attempts": 1})
    return (session.client("iam", endpoint_url=url),
            session.client("lambda", endpoint_url=url, config=config))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    with Endpoint(port=0) as endpoint:
        iam, lam = _clients(endpoint.url)
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("app.py", CODE)
        lam.create_function(FunctionName="bench", Runtime="python3.11",
                            Role=role["Role"]["Arn"], Handler="app.handler", Timeout=30,
                            Code={"ZipFile": buffer.getvalue()})

        def invoke(n: int) -> float:
            started = time.perf_counter()
            response = lam.invoke(FunctionName="bench", Payload=json.dumps({"n": n}).encode())
            assert json.loads(response["Payload"].read()) == {"n": n}, response
            return time.perf_counter() - started

        colds = []
        for round_ in range(args.cold):
            lam.update_function_configuration(
                FunctionName="bench", Environment={"Variables": {"ROUND": str(round_)}})
            colds.append(invoke(round_))
        warm = [invoke(n) for n in range(args.warm)]
        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(invoke, range(args.calls)))
        elapsed = time.perf_counter() - started

    warm.sort()
    print(f"cores: {os.cpu_count()} (shared)")
    print(f"cold start (first Invoke of a new version, {args.cold} runs): "
          f"median {_ms(statistics.median(colds))}, max {_ms(max(colds))}")
    print(f"warm Invoke latency ({args.warm} sequential): median "
          f"{_ms(statistics.median(warm))}, p95 {_ms(warm[int(len(warm) * 0.95) - 1])}")
    print(f"throughput: {args.calls / elapsed:.0f} invokes/s "
          f"({args.calls} RequestResponse Invokes from {args.threads} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
