"""Benchmark: request latency through the local API Gateway proxy (figures printed, not
asserted).

An in-process endpoint (moto + our gateway + the Lambda runtime); one function from a
zip answering a Lambda proxy response; a REST API imported as Chalice imports it, with
the Lambda permission Chalice adds; then N sequential requests to its stage URL, and the
same function through the Lambda Invoke API for comparison (the proxy's own cost is the
difference: route, permission check, event and response mapping).

Run: .venv/bin/python bench/bench_apigateway.py [--requests 300]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
import requests

from localcloud.endpoint import Endpoint

REGION = "eu-west-1"
ACCOUNT = "777777777777"
HANDLER = '''import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"path": event["path"]})}
'''


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


def _figures(name: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(f"{name:<28} n={len(ordered)}  p50={statistics.median(ordered) * 1000:7.2f} ms  "
          f"p95={p95 * 1000:7.2f} ms  {len(ordered) / sum(ordered):7.1f} req/s (sequential)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with Endpoint(port=0) as endpoint:
        base = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local",
                             region_name=REGION)
        creds = base.client("sts", endpoint_url=endpoint.url).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole",
            RoleSessionName="bench")["Credentials"]
        session = boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                                aws_secret_access_key=creds["SecretAccessKey"],
                                aws_session_token=creds["SessionToken"], region_name=REGION)
        iam, lam = (session.client(s, endpoint_url=endpoint.url) for s in ("iam", "lambda"))
        role = iam.create_role(RoleName="bench-fn", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        arn = lam.create_function(FunctionName="bench", Runtime="python3.11", Role=role,
                                  Handler="app.handler", Code={"ZipFile": _zip()},
                                  Timeout=10)["FunctionArn"]
        integration = {"type": "aws_proxy", "httpMethod": "POST",
                       "uri": f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/"
                              f"functions/{arn}/invocations"}
        apigateway = session.client("apigateway", endpoint_url=endpoint.url)
        api_id = apigateway.import_rest_api(body=json.dumps({
            "swagger": "2.0", "info": {"title": "bench", "version": "1.0"},
            "paths": {"/items/{id}": {"get": {
                "x-amazon-apigateway-integration": integration}}}}))["id"]
        lam.add_permission(FunctionName="bench", StatementId="apigw",
                           Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com",
                           SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*")
        apigateway.create_deployment(restApiId=api_id, stageName="api")
        url = f"{endpoint.url}/restapis/{api_id}/api/_user_request_/items/"
        http = requests.Session()
        assert http.get(url + "0", timeout=60).status_code == 200  # cold start, not counted
        proxy, direct = [], []
        for index in range(args.requests):
            started = time.perf_counter()
            response = http.get(url + str(index), timeout=60)
            proxy.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        for _ in range(args.requests):
            started = time.perf_counter()
            lam.invoke(FunctionName="bench", Payload=b'{"path": "/items/1"}')
            direct.append(time.perf_counter() - started)
    print(f"cores: {os.cpu_count()}  (shared machine: other work runs meanwhile)")
    _figures("API Gateway stage URL", proxy)
    _figures("Lambda Invoke API (boto3)", direct)


if __name__ == "__main__":
    main()
