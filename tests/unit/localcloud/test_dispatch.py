"""The endpoint's moto dispatcher: the backend moto itself would pick for every request,
found without scanning moto's package folder again once a host was seen."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from moto import backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from localcloud.dispatch import Dispatcher


def signed(service: str, target: str = "", path: str = "/") -> dict[str, Any]:
    """The WSGI environ of a SigV4-signed request to ``service`` (what moto routes on)."""
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "POST", "HTTP_HOST": "127.0.0.1:4566",
               "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=local/20260101/eu-west-1/"
                                     f"{service}/aws4_request, SignedHeaders=host, "
                                     "Signature=00"}
    if target:
        environ["HTTP_X_AMZ_TARGET"] = target
    return environ


REQUESTS = [
    signed("dynamodb", "DynamoDB_20120810.PutItem"),
    signed("logs", "Logs_20140328.PutLogEvents"),
    signed("events", "AWSEvents.PutRule"),
    signed("sqs", "AmazonSQS.SendMessage"),
    signed("sts"),
    signed("iam"),
    signed("lambda", path="/2015-03-31/functions/f/invocations"),
    signed("s3", path="/bucket/key"),
    {"PATH_INFO": "/moto-api/reset", "REQUEST_METHOD": "POST"},
]


@pytest.mark.parametrize("environ", REQUESTS, ids=lambda e: e.get("HTTP_X_AMZ_TARGET")
                         or e["PATH_INFO"])
def test_a_request_goes_to_the_backend_moto_picks(environ: dict[str, Any]) -> None:
    ours = Dispatcher(create_backend_app)
    mine = ours.get_application(dict(environ))
    again = ours.get_application(dict(environ))
    theirs = DomainDispatcherApplication(create_backend_app).get_application(dict(environ))
    assert mine.name == theirs.name
    assert again is mine  # one app per backend, as moto keeps them


def test_a_known_host_is_not_looked_up_in_the_package_folder_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    scans: list[int] = []
    listing = backends.list_of_moto_modules

    def counted() -> Any:
        scans.append(1)
        return listing()

    monkeypatch.setattr(backends, "list_of_moto_modules", counted)
    dispatcher = Dispatcher(create_backend_app)
    request = signed("dynamodb", "DynamoDB_20120810.GetItem")
    dispatcher.get_application(dict(request))
    first = len(scans)
    for _ in range(5):
        dispatcher.get_application(dict(request))
    assert first >= 1
    assert len(scans) == first


def test_arbitrary_hosts_do_not_grow_the_memo_without_bound(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("localcloud.dispatch.MAX_HOSTS", 3)
    dispatcher = Dispatcher(create_backend_app)
    for n in range(10):
        dispatcher.get_backend_for_host(f"nothing{n}.example")
    assert len(dispatcher._backends) == 3


# DynamoDB requests answered straight by moto's handler, then through moto's Flask app:
# the same status, body and headers (request ids and dates aside), errors included.
DYNAMODB_CALLS: list[tuple[str, dict[str, Any] | bytes]] = [
    ("CreateTable", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST",
                     "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                     "AttributeDefinitions": [{"AttributeName": "pk",
                                               "AttributeType": "S"}]}),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "a"}, "n": {"N": "1"}}}),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "a"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}),
    ("GetItem", {"TableName": "t", "Key": {"pk": {"S": "a"}}}),
    ("GetItem", {"TableName": "missing", "Key": {"pk": {"S": "a"}}}),
    ("UpdateItem", {"TableName": "t", "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "SET SET"}),
    ("UpdateItem", {"TableName": "t", "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "ADD #n :one", "ExpressionAttributeNames": {"#n": "n"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                    "ReturnValues": "ALL_NEW"}),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "b"}, "blob": {"B": "AAEC"},
                                            "m": {"M": {"l": {"L": [{"N": "1"}]}}}}}),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": ""}}}),
    ("GetItem", {"TableName": "t", "Key": {"pk": {"S": "b"}},
                 "ProjectionExpression": "#b, m.l[0]", "ExpressionAttributeNames": {"#b": "blob"},
                 "ReturnConsumedCapacity": "TOTAL"}),
    ("GetItem", {"TableName": "t", "Key": {"pk": {"S": "b"}},
                 "ReturnConsumedCapacity": "INDEXES"}),
    ("UpdateItem", {"TableName": "t", "Key": {"pk": {"S": "b"}},
                    "UpdateExpression": "SET #s = :s REMOVE #b",
                    "ConditionExpression": "attribute_exists(pk) AND NOT #s = :s",
                    "ExpressionAttributeNames": {"#s": "status", "#b": "blob"},
                    "ExpressionAttributeValues": {":s": {"S": "DONE"}},
                    "ReturnValues": "UPDATED_OLD"}),
    ("UpdateItem", {"TableName": "t", "Key": {"pk": {"S": "b"}},
                    "UpdateExpression": "SET #s = :s",
                    "ConditionExpression": "attribute_exists(pk) AND NOT #s = :s",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":s": {"S": "DONE"}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),
    ("UpdateItem", {"TableName": "t", "Key": {"pk": {"S": "b"}},
                    "UpdateExpression": "SET a = :a", "ExpressionAttributeNames": {"#x": "x"},
                    "ExpressionAttributeValues": {":a": {"S": "A"}}}),
    ("Query", {"TableName": "t", "KeyConditionExpression": "pk = :b",
               "ExpressionAttributeValues": {":b": {"S": "b"}}}),
    ("DeleteItem", {"TableName": "t", "Key": {"pk": {"S": "b"}}, "ReturnValues": "ALL_OLD"}),
    ("DeleteItem", {"TableName": "t", "Key": {"pk": {"S": "b"}},
                    "ConditionExpression": "attribute_exists(pk)"}),
    ("GetItem", {"TableName": "t", "Key": {"pk": {"S": "a"}}, "Unknown": 1}),
    ("GetItem", b"{not json"),
    ("NoSuchAction", {}),
]


def _answers(dispatcher: Any) -> list[tuple[str, dict[str, str], bytes]]:
    from moto import mock_aws
    from werkzeug.test import EnvironBuilder

    ignored = {"x-amzn-requestid", "x-amz-crc32", "date", "content-length"}
    answers = []
    with mock_aws():
        for action, body in DYNAMODB_CALLS:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            environ = EnvironBuilder(path="/", method="POST", data=data, headers={
                "Host": "127.0.0.1:4566", "X-Amz-Target": f"DynamoDB_20120810.{action}",
                "Content-Type": "application/x-amz-json-1.0",
                "Authorization": signed("dynamodb")["HTTP_AUTHORIZATION"]}).get_environ()
            started: list[tuple[str, list[tuple[str, str]]]] = []
            try:
                chunks = dispatcher(environ, lambda s, h, *_, into=started: into.append((s, h)))
            except Exception as exc:  # moto's own crash: the endpoint answers it 500
                answers.append(("raised", {}, type(exc).__name__.encode()))
                continue
            raw = b"".join(chunks)
            (status, headers), = started
            assert dict(headers).get("Content-Length") == str(len(raw))
            body_text = re.sub(rb'"CreationDateTime": [0-9.]+', b'"CreationDateTime": 0', raw)
            answers.append((status, {k.lower(): v for k, v in headers
                                     if k.lower() not in ignored}, body_text))
    return answers


def test_a_dynamodb_request_answered_without_flask_is_answered_as_flask_answers_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    direct = _answers(Dispatcher(create_backend_app))
    monkeypatch.setattr("localcloud.dispatch.DIRECT_HANDLERS", {})
    through_flask = _answers(Dispatcher(create_backend_app))

    assert direct == through_flask
    ok, invalid = ("200 OK", None), ("400 BAD REQUEST", "ValidationException")
    failed = ("400 BAD REQUEST", "ConditionalCheckFailedException")
    assert [(status, headers.get("x-amzn-errortype")) for status, headers, _ in direct] == [
        ok, ok, failed, ok, ("400 BAD REQUEST", "ResourceNotFoundException"), invalid, ok,
        ok, invalid, ok, ok, ok, failed, invalid, ok, ok, failed, ok,
        ("raised", None), ("raised", None)]
