"""The endpoint's moto dispatcher: the backend moto itself would pick for every request,
found without scanning moto's package folder again once a host was seen."""

from __future__ import annotations

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
