"""The pure parts of local API Gateway: stage URLs, definitions, routing precedence, the
proxy event and the proxy response."""

from __future__ import annotations

import pytest

from localcloud import arns
from localcloud.apigateway.definition import parse_document
from localcloud.apigateway.proxy import (
    HttpRequest,
    MalformedResponse,
    RequestContext,
    http_response,
    proxy_event,
)
from localcloud.apigateway.routing import Route, match
from localcloud.apigateway.urls import is_public_path, local_url, user_request
from localcloud.errors import AwsApiError


def route(path: str, method: str = "GET") -> Route:
    return Route(path, method, "aws_proxy", "uri")


# -- URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/restapis/a1/api/_user_request_/",
                                  "/restapis/a1/api/_user_request_/orders/1",
                                  "/restapis/a1/api/_user_request_"])
def test_stage_urls_are_public(path: str) -> None:
    assert is_public_path(path)
    assert user_request(path) is not None


@pytest.mark.parametrize("path", ["/restapis", "/restapis/a1", "/restapis/a1/stages/api",
                                  "/restapis/a1/api/_user_request_x", "/_local/stats",
                                  "/x/restapis/a1/api/_user_request_/"])
def test_every_other_path_is_not_public(path: str) -> None:
    assert not is_public_path(path)


def test_the_local_url_round_trips_to_the_api_and_stage() -> None:
    url = local_url("http://127.0.0.1:4566", "abc", "prod") + "/orders"
    parsed = user_request(url.removeprefix("http://127.0.0.1:4566"))
    assert parsed is not None and (parsed.api_id, parsed.stage, parsed.path) == (
        "abc", "prod", "/orders")


# -- definitions -------------------------------------------------------------------------


def test_only_methods_reach_moto_with_any_as_any() -> None:
    document = parse_document(b'{"openapi": "3.0.1", "info": {"title": "t", "description": "d"},'
                              b' "paths": {"/a": {"GET": {}, "summary": "s", '
                              b'"x-amazon-apigateway-any-method": {}}}}')
    assert document.for_moto() == {"openapi": "3.0.1", "info": {"title": "t", "description": "d"},
                                   "paths": {"/a": {"get": {}, "any": {}}}}


@pytest.mark.parametrize("body, named", [
    (b"[]", "JSON object"), (b'{"swagger": "2.0", "paths": {"a": {}}}', "'a' must start"),
    (b'{"swagger": "2.0", "paths": {"/a": []}}', "paths./a must be"),
    (b'{"swagger": "2.0", "paths": {"/a": {"get": {"x-amazon-apigateway-integration": 1}}}}',
     "x-amazon-apigateway-integration"),
    (b'{"swagger": "2.0", "paths": {}, "x-amazon-apigateway-binary-media-types": "a/b"}',
     "binary-media-types"),
])
def test_a_bad_document_names_the_field(body: bytes, named: str) -> None:
    with pytest.raises(AwsApiError) as raised:
        parse_document(body)
    assert raised.value.code == "BadRequestException" and named in raised.value.message


# -- routing -----------------------------------------------------------------------------


def test_a_literal_segment_beats_a_parameter_which_beats_a_greedy_path() -> None:
    routes = [route("/{proxy+}"), route("/orders/{id}"), route("/orders/latest"),
              route("/orders/{id}/items")]
    assert match(routes, "GET", "/orders/latest").route.resource_path == "/orders/latest"
    assert match(routes, "GET", "/orders/7").route.resource_path == "/orders/{id}"
    assert match(routes, "GET", "/orders/7/items").route.resource_path == "/orders/{id}/items"
    assert match(routes, "GET", "/orders/7/other").route.resource_path == "/{proxy+}"


def test_the_method_beats_any_and_any_serves_the_rest() -> None:
    routes = [route("/a", "ANY"), route("/a", "POST")]
    assert match(routes, "POST", "/a").route.method == "POST"
    assert match(routes, "DELETE", "/a").route.method == "ANY"


def test_root_and_trailing_slashes() -> None:
    routes = [route("/"), route("/orders")]
    assert match(routes, "GET", "/").route.resource_path == "/"
    assert match(routes, "GET", "/orders/").route.resource_path == "/orders"


def test_a_greedy_path_needs_at_least_one_segment_and_parameters_are_decoded() -> None:
    routes = [route("/files/{proxy+}"), route("/users/{name}")]
    assert match(routes, "GET", "/files") is None
    assert match(routes, "GET", "/users/J%C3%BCrgen%20K").path_parameters == {"name": "Jürgen K"}


# -- proxy event -------------------------------------------------------------------------

CONTEXT = RequestContext("555555555555", "api1", "prod", "rid", "10.0.0.1", 1_700_000_000.5)


def test_a_request_without_query_or_parameters_has_nulls_as_api_gateway_sends() -> None:
    event = proxy_event(HttpRequest("POST", "/orders", "", [("Content-Type", "application/json")],
                                    b'{"a": 1}'), resource_path="/orders", path_parameters={},
                        context=CONTEXT, binary_media_types=["image/png"])
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["requestTimeEpoch"] == 1_700_000_000_500
    assert context["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    assert context["identity"]["sourceIp"] == "10.0.0.1"
    assert context["path"] == "/prod/orders"


def test_repeated_headers_keep_the_last_value_and_every_value() -> None:
    event = proxy_event(HttpRequest("GET", "/", "", [("X-A", "1"), ("X-A", "2")], b""),
                        resource_path="/", path_parameters={}, context=CONTEXT,
                        binary_media_types=[])
    assert event["headers"] == {"X-A": "2"}
    assert event["multiValueHeaders"] == {"X-A": ["1", "2"]}


# -- proxy response ----------------------------------------------------------------------


def test_multi_value_headers_win_over_single_ones_of_the_same_name() -> None:
    response = http_response({"statusCode": 200, "headers": {"X-A": "single", "X-B": "b"},
                              "multiValueHeaders": {"x-a": ["1", "2"]}, "body": "ok"})
    assert response.headers == [("x-a", "1"), ("x-a", "2"), ("X-B", "b")]
    assert response.body == b"ok"


def test_a_missing_status_is_200_and_a_missing_body_empty() -> None:
    assert http_response({}).status == 200
    assert http_response({"statusCode": 204}).body == b""


@pytest.mark.parametrize("answer", [
    None, [], {"statusCode": True}, {"statusCode": 99}, {"statusCode": 600},
    {"headers": []}, {"multiValueHeaders": {"a": "b"}}, {"headers": {"a": {"b": 1}}},
    {"body": 5}, {"body": "%%", "isBase64Encoded": True}, {"unexpected": 1}])
def test_anything_else_is_malformed(answer: object) -> None:
    with pytest.raises(MalformedResponse):
        http_response(answer)


def test_the_execute_api_arn_uses_the_resource_template_without_its_slash() -> None:
    assert arns.execute_api("r", "1", "a", "s", "GET", "/") == "arn:aws:execute-api:r:1:a/s/GET/"
