"""json_setup: a DynamoDB request set up as moto's generic setup_class sets it up, without
the work that cannot apply to a JSON body, and with the action taken from X-Amz-Target
alone (as on AWS)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import BackendRequest, create_backend_app
from werkzeug.test import EnvironBuilder

from localcloud import json_setup
from localcloud.dispatch import Dispatcher

AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=local/20260101/eu-west-1/dynamodb/"
                 "aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
TABLE = {"TableName": "t", "BillingMode": "PAY_PER_REQUEST",
         "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
         "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}


def request(action: str, body: dict[str, Any] | bytes, *, path: str = "/",
            query: str = "", **headers: str) -> BackendRequest:
    """moto's request object for a DynamoDB call, as boto3 sends it unless told otherwise."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Host": "127.0.0.1:4566", "X-Amz-Target": f"DynamoDB_20120810.{action}",
            "Content-Type": "application/x-amz-json-1.0", "Authorization": AUTHORIZATION,
            "User-Agent": "Boto3/1.40.0 md/Botocore#1.40.0 os/linux lang/python#3.11"}
    sent.update({name.replace("_", "-"): value for name, value in headers.items()})
    sent = {name: value for name, value in sent.items() if value}
    return BackendRequest(EnvironBuilder(path=path, query_string=query, method="POST",
                                         data=data, headers=sent).get_environ())


@pytest.fixture
def moto() -> Iterator[Dispatcher]:
    with mock_aws():
        yield Dispatcher(create_backend_app)


def call(dispatcher: Dispatcher, action: str, body: dict[str, Any]) -> Any:
    environ = request(action, body).environ
    return json.loads(b"".join(dispatcher(environ, lambda *_: None)))


# What DynamoHandler's action methods and call_action read off the handler.
ATTRIBUTES = ("is_werkzeug_request", "raw_body", "body", "uri", "path", "raw_path", "method",
              "region", "partition", "uri_match", "response_headers", "params", "access_key",
              "current_account")


def test_a_signed_json_request_gets_the_attributes_setup_class_gives_it(
        moto: Dispatcher) -> None:
    body = {"TableName": "t", "Key": {"pk": {"S": "a"}}, "ReturnConsumedCapacity": "TOTAL"}
    theirs, ours = DynamoHandler(), DynamoHandler()
    sent = request("GetItem", body)
    theirs.setup_class(sent, sent.raw_url, dict(sent.headers))

    assert json_setup.prepare(ours, request("GetItem", body))
    assert {name: getattr(ours, name) for name in ATTRIBUTES} == {
        name: getattr(theirs, name) for name in ATTRIBUTES}
    assert ours.region == "eu-west-1" and ours.params["ReturnConsumedCapacity"] == "TOTAL"
    assert dict(ours.headers) == dict(theirs.headers)
    assert ours.uri == sent.raw_url == "http://127.0.0.1:4566/"
    # Nothing read from the body as a query string: the action comes from the header.
    assert ours.querystring == {}


@pytest.mark.parametrize("odd", [
    {"Content_Encoding": "gzip"},
    {"query": "x=1"},
    {"path": "/prefix/"},
    {"x_moto_account_id": "999999999999"},
    {"Content_Type": "application/x-www-form-urlencoded"},
    {"Authorization": ""},
    {"Host": "d%C3%A9.example:4566"},
    {"X_Amz_Target": "AWSEvents.PutEvents"},
], ids=lambda odd: next(iter(odd)))
def test_a_request_it_is_not_sure_about_is_left_to_setup_class(odd: dict[str, str]) -> None:
    body = {"TableName": "t", "Key": {"pk": {"S": "a"}}}
    if odd.get("Content_Encoding"):
        body = gzip.compress(json.dumps(body).encode())  # type: ignore[assignment]
    handler = DynamoHandler()
    assert json_setup.applies(request("GetItem", body)) is True
    assert not json_setup.prepare(handler, request("GetItem", body, **odd))
    assert not hasattr(handler, "params")  # nothing set: setup_class does it all


def test_an_account_chosen_by_moto_account_id_is_left_to_setup_class(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "999999999999")
    assert not json_setup.applies(request("GetItem", {"TableName": "t", "Key": {}}))


def test_the_target_header_alone_names_the_action(moto: Dispatcher) -> None:
    """moto's setup_class reads the JSON body as a query string too, and a query string's
    ``Action`` wins over X-Amz-Target: through it (without localcloud.moto_fixes), this
    PutItem deletes table ``t`` (moto 5.2.5 server mode). On AWS, and here, it stores
    the item."""
    call(moto, "CreateTable", TABLE)
    item = {"pk": {"S": "a"}, "note": {"S": "see&Action=DeleteTable&"}}

    assert call(moto, "PutItem", {"TableName": "t", "Item": item}) == {}
    assert call(moto, "ListTables", {}) == {"TableNames": ["t"]}
    assert call(moto, "GetItem", {"TableName": "t", "Key": {"pk": {"S": "a"}}}) == {
        "Item": item}
