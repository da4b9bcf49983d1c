"""API Gateway on the local endpoint: a REST API imported as Chalice imports it (Swagger
2.0 with x-amazon-apigateway-integration), deployed to a stage, then called at its stage
URL with no AWS credentials, as a browser or curl would.

Functions are run by a recording invoker (the endpoint's FunctionInvoker seam), so each
test sees the exact proxy event the function got and decides what it answers.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from dataplane_support import REGION, Cloud

from localcloud.config import RouterConfig
from localcloud.endpoint import Endpoint
from localcloud.functions import FunctionUnreachable, InvocationResult

Answer = Callable[[dict[str, Any]], InvocationResult]


def ok(event: dict[str, Any]) -> InvocationResult:
    return InvocationResult(200, {"statusCode": 200,
                                  "headers": {"Content-Type": "application/json"},
                                  "body": json.dumps({"saw": event["path"]})})


@dataclass
class RecordingInvoker:
    """Runs "functions" in-process: per function ARN an answer, and every call recorded."""

    answers: dict[str, Answer] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def unavailable(self, function_arn: str) -> str | None:
        return None

    def invoke(self, function_arn: str, payload: str, *, timeout_s: float,
               request_id: str) -> InvocationResult:
        with self.lock:
            self.calls.append((function_arn, json.loads(payload), timeout_s))
        answer = self.answers.get(function_arn, ok)
        return answer(json.loads(payload))

    def events_for(self, function_arn: str) -> list[dict[str, Any]]:
        with self.lock:
            return [event for arn, event, _ in self.calls if arn == function_arn]


@pytest.fixture(scope="module")
def invoker() -> RecordingInvoker:
    return RecordingInvoker()


@pytest.fixture(scope="module")
def endpoint(invoker: RecordingInvoker) -> Iterator[Endpoint]:
    with Endpoint(port=0, config=RouterConfig(time_scale=1 / 5000), invoker=invoker) as running:
        yield running


def integration(function_arn: str) -> dict[str, Any]:
    """The integration Chalice writes on every route (chalice/deploy/swagger.py)."""
    return {"responses": {"default": {"statusCode": "200"}},
            "uri": f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
                   f"{function_arn}/invocations",
            "passthroughBehavior": "when_no_match", "httpMethod": "POST",
            "contentHandling": "CONVERT_TO_TEXT", "type": "aws_proxy"}


def chalice_swagger(function_arn: str, title: str = "shop") -> dict[str, Any]:
    """A Swagger 2.0 document of the shape `chalice deploy` imports."""
    method = {"consumes": ["application/json"], "produces": ["application/json"],
              "responses": {"200": {"description": "200 response",
                                    "schema": {"$ref": "#/definitions/Empty"}}},
              "x-amazon-apigateway-integration": integration(function_arn)}
    return {
        "swagger": "2.0", "info": {"version": "1.0", "title": title}, "schemes": ["https"],
        "paths": {
            "/orders": {"post": method},
            "/orders/{orderId}": {"get": {**method, "parameters": [
                {"name": "orderId", "in": "path", "required": True, "type": "string"}]}},
            "/files/{proxy+}": {"x-amazon-apigateway-any-method": method},
        },
        "definitions": {"Empty": {"type": "object", "title": "Empty Schema"}},
        "x-amazon-apigateway-binary-media-types": ["application/octet-stream", "image/png"],
    }


@dataclass
class Api:
    account: str
    function_arn: str
    api_id: str
    url: str


def deploy_api(cloud: Cloud, *, permit: str | None = "*", stage: str = "api") -> Api:
    """Function + Lambda permission (as Chalice adds it) + imported API + deployment."""
    account = cloud.new_account()
    function_arn = cloud.function(account, "api_handler")
    apigateway = cloud.client(account, "apigateway")
    api_id = apigateway.import_rest_api(
        body=json.dumps(chalice_swagger(function_arn)),
        parameters={"endpointConfigurationTypes": "EDGE"})["id"]
    if permit is not None:
        # chalice/awsclient.py add_permission_for_apigateway: SourceArn <api ARN>/*.
        cloud.client(account, "lambda").add_permission(
            FunctionName="api_handler", StatementId="apigw", Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{REGION}:{account}:{api_id}/{permit}")
    apigateway.create_deployment(restApiId=api_id, stageName=stage)
    return Api(account, function_arn, api_id,
               f"{cloud.endpoint.url}/restapis/{api_id}/{stage}/_user_request_")


def test_import_stores_chalice_swagger_as_resources_methods_and_integrations(cloud: Cloud) -> None:
    api = deploy_api(cloud)
    apigateway = cloud.client(api.account, "apigateway")

    resources = {r["path"]: r for r in apigateway.get_resources(restApiId=api.api_id)["items"]}

    assert set(resources) >= {"/", "/orders", "/orders/{orderId}", "/files/{proxy+}"}
    assert set(resources["/files/{proxy+}"]["resourceMethods"]) == {"ANY"}
    post = resources["/orders"]["resourceMethods"]["POST"]["methodIntegration"]
    assert post["type"] == "aws_proxy" and api.function_arn in post["uri"]
    rest_api = apigateway.get_rest_api(restApiId=api.api_id)
    assert rest_api["name"] == "shop"
    assert rest_api["binaryMediaTypes"] == ["application/octet-stream", "image/png"]
    assert [s["stageName"] for s in apigateway.get_stages(restApiId=api.api_id)["item"]] == ["api"]


def test_a_stage_url_invokes_the_function_with_the_proxy_event(
        cloud: Cloud, invoker: RecordingInvoker) -> None:
    api = deploy_api(cloud)
    invoker.answers[api.function_arn] = lambda event: InvocationResult(200, {
        "statusCode": 201, "headers": {"Location": "/orders/42"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": '{"orderId": "42"}'})

    response = requests.get(f"{api.url}/orders/42?verbose=1&verbose=2&x=",
                            headers={"X-Correlation-Id": "c-1"}, timeout=10)

    assert response.status_code == 201
    assert response.headers["Location"] == "/orders/42"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.json() == {"orderId": "42"}
    [event] = invoker.events_for(api.function_arn)
    assert event["resource"] == "/orders/{orderId}" and event["path"] == "/orders/42"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["X-Correlation-Id"] == "c-1"
    assert event["multiValueHeaders"]["X-Correlation-Id"] == ["c-1"]
    assert event["queryStringParameters"] == {"verbose": "2", "x": ""}
    assert event["multiValueQueryStringParameters"] == {"verbose": ["1", "2"], "x": [""]}
    assert event["pathParameters"] == {"orderId": "42"}
    assert event["stageVariables"] is None and event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert (context["accountId"], context["apiId"], context["stage"]) == (
        api.account, api.api_id, "api")
    assert context["resourcePath"] == "/orders/{orderId}" and context["httpMethod"] == "GET"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["path"] == "/api/orders/42"
    assert context["requestId"] == response.headers["x-amzn-RequestId"]


def test_a_json_body_arrives_as_text_and_a_binary_one_as_base64(
        cloud: Cloud, invoker: RecordingInvoker) -> None:
    api = deploy_api(cloud)

    requests.post(f"{api.url}/orders", json={"customerId": "c"}, timeout=10)
    requests.put(f"{api.url}/files/a/b.png", data=b"\x89PNG\x00",
                 headers={"Content-Type": "image/png"}, timeout=10)

    text, binary = invoker.events_for(api.function_arn)
    assert json.loads(text["body"]) == {"customerId": "c"} and not text["isBase64Encoded"]
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\x89PNG\x00"
    assert binary["resource"] == "/files/{proxy+}" and binary["httpMethod"] == "PUT"
    assert binary["pathParameters"] == {"proxy": "a/b.png"}


def test_a_base64_answer_is_decoded_to_bytes(cloud: Cloud, invoker: RecordingInvoker) -> None:
    api = deploy_api(cloud)
    invoker.answers[api.function_arn] = lambda event: InvocationResult(200, {
        "statusCode": 200, "headers": {"Content-Type": "image/png"},
        "body": base64.b64encode(b"\x00\x01binary").decode(), "isBase64Encoded": True})

    response = requests.get(f"{api.url}/files/logo.png", timeout=10)

    assert response.status_code == 200 and response.content == b"\x00\x01binary"


@pytest.mark.parametrize("path, method", [("/nothing", "GET"), ("/orders", "GET"),
                                          ("/orders/42/items", "GET"), ("/files", "GET")])
def test_no_resource_or_method_is_403_missing_authentication_token(
        cloud: Cloud, invoker: RecordingInvoker, path: str, method: str) -> None:
    api = deploy_api(cloud)

    response = requests.request(method, f"{api.url}{path}", timeout=10)

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert invoker.events_for(api.function_arn) == []


def test_a_stage_never_deployed_or_an_unknown_api_is_403(cloud: Cloud) -> None:
    api = deploy_api(cloud)

    other_stage = requests.get(api.url.replace("/api/", "/prod/") + "/orders/1", timeout=10)
    unknown = requests.get(f"{cloud.endpoint.url}/restapis/nosuchapi0/api/_user_request_/orders/1",
                           timeout=10)

    assert other_stage.status_code == unknown.status_code == 403


@pytest.mark.parametrize("permit", [None, "prod/*", "api/POST/*"])
def test_without_a_lambda_permission_for_the_method_it_is_500_and_nothing_runs(
        cloud: Cloud, invoker: RecordingInvoker, permit: str | None) -> None:
    api = deploy_api(cloud, permit=permit)

    response = requests.get(f"{api.url}/orders/42", timeout=10)

    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    assert invoker.events_for(api.function_arn) == []


def test_a_permission_for_exactly_this_method_is_enough(
        cloud: Cloud, invoker: RecordingInvoker) -> None:
    api = deploy_api(cloud, permit="api/GET/orders/{orderId}")

    assert requests.get(f"{api.url}/orders/42", timeout=10).status_code == 200
    assert requests.post(f"{api.url}/orders", timeout=10).status_code == 500


@pytest.mark.parametrize("answer", [
    InvocationResult(200, {"errorMessage": "boom", "errorType": "ValueError"}, "Unhandled"),
    InvocationResult(200, "not an object"),
    InvocationResult(200, {"statusCode": "teapot", "body": ""}),
    InvocationResult(200, {"statusCode": 200, "body": {"not": "a string"}}),
    InvocationResult(200, {"statusCode": 200, "body": "x", "extra": 1}),
    InvocationResult(200, {"statusCode": 200, "body": "***", "isBase64Encoded": True}),
], ids=["function-error", "not-an-object", "bad-status", "body-object", "unknown-key",
        "bad-base64"])
def test_a_function_error_or_malformed_answer_is_502(
        cloud: Cloud, invoker: RecordingInvoker, answer: InvocationResult) -> None:
    api = deploy_api(cloud)
    invoker.answers[api.function_arn] = lambda event: answer

    response = requests.get(f"{api.url}/orders/42", timeout=10)

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_a_function_that_cannot_be_started_is_500(cloud: Cloud, invoker: RecordingInvoker) -> None:
    api = deploy_api(cloud)

    def unreachable(event: dict[str, Any]) -> InvocationResult:
        raise FunctionUnreachable("runtime", "(local)", "no worker")

    invoker.answers[api.function_arn] = unreachable

    assert requests.get(f"{api.url}/orders/42", timeout=10).status_code == 500


def test_the_invocation_timeout_is_the_function_timeout_capped_at_29_seconds(
        cloud: Cloud, invoker: RecordingInvoker) -> None:
    api = deploy_api(cloud)
    cloud.client(api.account, "lambda").update_function_configuration(
        FunctionName="api_handler", Timeout=60)
    invoker.answers[api.function_arn] = lambda event: InvocationResult(200, {
        "errorMessage": "Task timed out after 29.00 seconds", "errorType": "Sandbox.Timedout"},
        "Unhandled")

    response = requests.get(f"{api.url}/orders/1", timeout=10)

    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}
    assert [t for arn, _, t in invoker.calls if arn == api.function_arn] == [29.0]


def test_put_rest_api_overwrite_replaces_the_routes(cloud: Cloud) -> None:
    api = deploy_api(cloud)
    document = chalice_swagger(api.function_arn)
    document["paths"] = {"/health": {"get": document["paths"]["/orders"]["post"]}}

    cloud.client(api.account, "apigateway").put_rest_api(
        restApiId=api.api_id, mode="overwrite", body=json.dumps(document))

    assert requests.get(f"{api.url}/health", timeout=10).status_code == 200
    assert requests.post(f"{api.url}/orders", timeout=10).status_code == 403


@pytest.mark.parametrize("body, named", [
    (b"not json", "not a JSON document"),
    (b'{"swagger": "2.0", "info": {"title": "t"}}', "paths"),
    (b'{"info": {"title": "t"}, "paths": {}}', "'swagger' or 'openapi'"),
    (b'{"swagger": "2.0", "info": {}, "paths": {}}', "info.title"),
    (b'{"swagger": "2.0", "info": {"title": "t"}, "paths": {"/a": {"get": []}}}', "paths./a.get"),
])
def test_a_bad_definition_is_a_bad_request_naming_the_problem(
        cloud: Cloud, body: bytes, named: str) -> None:
    apigateway = cloud.client(cloud.new_account(), "apigateway")

    with pytest.raises(ClientError) as raised:
        apigateway.import_rest_api(body=body)

    error = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "BadRequestException" and named in error["Message"]
    assert apigateway.get_rest_apis()["items"] == []


def test_put_rest_api_on_an_unknown_api_is_not_found(cloud: Cloud) -> None:
    apigateway = cloud.client(cloud.new_account(), "apigateway")

    with pytest.raises(ClientError) as raised:
        apigateway.put_rest_api(restApiId="nosuchapi0", mode="overwrite",
                                body=json.dumps(chalice_swagger("arn:aws:lambda:x")))

    assert raised.value.response["Error"]["Code"] == "NotFoundException"


def test_apis_are_per_account(cloud: Cloud) -> None:
    api = deploy_api(cloud)

    assert cloud.client(cloud.new_account(), "apigateway").get_rest_apis()["items"] == []
    assert [a["id"] for a in cloud.client(api.account, "apigateway").get_rest_apis()["items"]
            ] == [api.api_id]
