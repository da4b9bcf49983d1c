"""The local endpoint as a process: loopback only, typed port errors, moto pass-through,
malformed requests, the foreground entry point."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from dataplane_support import PLAIN_KEYS, REGION, Cloud, put, signed_request

from localcloud.endpoint import Endpoint, PortInUseError

REPO = Path(__file__).resolve().parents[3]
STARTUP_DEADLINE_S = 180


def test_a_port_in_use_is_a_typed_error_naming_the_port(endpoint: Endpoint) -> None:
    with pytest.raises(PortInUseError) as raised:
        Endpoint(port=endpoint.port).start()
    assert str(endpoint.port) in str(raised.value)
    assert raised.value.exit_code == 1


def test_the_endpoint_binds_to_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Endpoint(host="0.0.0.0", port=0)


def test_requests_not_intercepted_reach_moto_unchanged(cloud: Cloud) -> None:
    account = cloud.new_account()
    sqs = cloud.client(account, "sqs")

    url = sqs.create_queue(QueueName="plain")["QueueUrl"]

    assert url in sqs.list_queues()["QueueUrls"]
    assert cloud.client(account, "sts").get_caller_identity()["Account"] == account


def _post(cloud: Cloud, action: str, request: object) -> requests.Response:
    """A raw AWS JSON 1.1 call, as a client that skips botocore's own validation sends it."""
    body = request if isinstance(request, bytes) else json.dumps(request).encode()
    return signed_request(cloud.endpoint.url, "events", body, {
        "X-Amz-Target": f"AWSEvents.{action}",
        "Content-Type": "application/x-amz-json-1.1"})


@pytest.mark.parametrize(("action", "request_body", "code"), [
    ("PutEvents", b"{not json", "SerializationException"),
    ("PutEvents", [1, 2], "SerializationException"),
    ("PutEvents", {"Entries": "nope"}, "ValidationException"),
    ("PutRule", b"{not json", "SerializationException"),
    # EventPattern is a string holding JSON; a JSON object there cannot be deserialized
    # (it used to reach moto, which answered 500 with an HTML page).
    ("PutRule", {"Name": "r", "EventPattern": {"source": ["a"]}}, "SerializationException"),
    ("PutRule", {"Name": "r", "EventPattern": 5}, "SerializationException"),
    ("TestEventPattern", {"EventPattern": {"source": ["a"]}, "Event": "{}"},
     "SerializationException"),
    ("TestEventPattern", {"Event": "{}"}, "ValidationException"),
])
def test_malformed_requests_get_the_aws_json_error_and_the_endpoint_keeps_serving(
        cloud: Cloud, action: str, request_body: object, code: str) -> None:
    answer = _post(cloud, action, request_body)

    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert answer.headers["x-amzn-RequestId"]
    assert answer.headers["x-amzn-ErrorType"] == code
    assert set(answer.json()) == {"__type", "message"}
    assert answer.json()["__type"] == code
    account = cloud.new_account()
    assert cloud.client(account, "events").list_event_buses()["EventBuses"]


def test_a_missing_required_member_is_named_as_aws_names_it(cloud: Cloud) -> None:
    answer = _post(cloud, "TestEventPattern", {"EventPattern": "{}"})

    assert answer.json()["message"] == ("1 validation error detected: Value null at 'event' "
                                        "failed to satisfy constraint: Member must not be null")


def test_the_idle_route_reports_when_routing_is_done(cloud: Cloud) -> None:
    answer = requests.get(f"{cloud.endpoint.url}/_local/idle?timeout=5", timeout=10,
                          headers=cloud.endpoint.control_headers)

    assert answer.status_code == 200
    assert answer.json() == {"idle": True, "pending": 0}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_python_m_localcloud_on_port_0_prints_its_url_and_stops_cleanly(stop: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "localcloud", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, cwd=REPO)
    try:
        assert process.stdout is not None
        secret_line = process.stdout.readline().strip()
        secret = re.fullmatch(r"control secret: (\S{32,})", secret_line)
        assert secret, f"not a control secret line: {secret_line!r}"
        line = process.stdout.readline().strip()
        listening = re.fullmatch(r"listening: (http://127\.0\.0\.1:(\d+))", line)
        assert listening, f"not a listening line: {line!r}"
        assert int(listening.group(2)) > 0
        answer = requests.get(f"{listening.group(1)}/_local/idle?timeout=1", timeout=30,
                              headers={"X-Localcloud-Secret": secret.group(1)})
        assert answer.json()["idle"] is True

        process.send_signal(stop)

        assert process.wait(timeout=STARTUP_DEADLINE_S) == 0
        assert process.stdout.read().splitlines() == ["drained: 0 left"]
        assert process.stderr is not None
        assert process.stderr.read() == ""
    finally:
        process.kill()
        process.wait()


def test_the_module_exits_1_with_one_line_when_the_port_is_taken(endpoint: Endpoint) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    finished = subprocess.run(
        [sys.executable, "-m", "localcloud", "--port", str(endpoint.port)],
        # A deadline on the process ending, not a speed claim: importing moto takes over
        # 30 s when the shared 2-core machine runs several suites at once.
        capture_output=True, text=True, env=env, cwd=REPO, timeout=STARTUP_DEADLINE_S)

    assert finished.returncode == 1
    assert finished.stderr.strip().splitlines() == [
        f"error: port {endpoint.port} on 127.0.0.1 is already in use: stop what uses it or "
        "pick another port"]


def test_after_a_reset_of_moto_state_events_reach_what_is_created_anew(
        endpoint: Endpoint) -> None:
    # moto's reset empties its backends and makes new ones on next use: the data plane
    # must read the new ones (it reads moto's dicts, not a copy of them).
    account = Cloud.new_account()
    before = Cloud(endpoint)
    before.bus(account, "b")
    assert put(before.client(account, "events"), "b")["FailedEntryCount"] == 0
    before.idle()

    requests.post(f"{endpoint.url}/moto-api/reset", timeout=30,
                  headers=endpoint.control_headers).raise_for_status()

    after = Cloud(endpoint)  # new credentials: the reset forgot every access key
    after.bus(account, "b")
    rule = f"arn:aws:events:eu-west-1:{account}:rule/b/r"
    url, queue_arn = after.queue(account, "inbox", allow_rule=rule)
    after.rule(account, "b", "r", [{"Id": "q", "Arn": queue_arn}])
    result = put(after.client(account, "events"), "b")
    after.idle()
    [message] = after.messages(account, url)
    assert json.loads(message["Body"])["id"] == result["Entries"][0]["EventId"]


@pytest.mark.parametrize("target", ["AWSEvents.PutEvents", "AWSEvents.PutRule",
                                    "DynamoDB_20120810.PutItem", "AmazonSQS.ListQueues"])
def test_json_nested_1000_levels_is_a_400_serialization_exception_not_a_500(
        cloud: Cloud, target: str) -> None:
    body = b'{"Entries": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    service = {"AWSEvents": "events", "DynamoDB_20120810": "dynamodb",
               "AmazonSQS": "sqs"}[target.split(".")[0]]

    answer = signed_request(cloud.endpoint.url, service, body, {
        "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})

    assert answer.status_code == 400
    assert answer.json()["__type"] == "SerializationException"
    account = cloud.new_account()
    assert cloud.client(account, "events").list_event_buses()["EventBuses"]


def test_a_chunked_request_body_is_honoured(cloud: Cloud) -> None:
    body = json.dumps({"EventPattern": '{"source": []}', "Event": "{}"}).encode()

    request = AWSRequest(method="POST", url=cloud.endpoint.url, data=body, headers={
        "X-Amz-Target": "AWSEvents.TestEventPattern",
        "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials(PLAIN_KEYS["aws_access_key_id"], PLAIN_KEYS["aws_secret_access_key"]),
              "events", REGION).add_auth(request)
    headers = {k: v for k, v in request.prepare().headers.items()
               if k.lower() != "content-length"}

    answer = requests.post(cloud.endpoint.url, data=iter([body[:10], body[10:]]), timeout=10,
                           headers=headers)

    # The pattern was read from the chunks: it is refused for its empty array.
    assert answer.status_code == 400
    assert answer.json()["__type"] == "InvalidEventPatternException"


@pytest.mark.parametrize("method,path", [
    ("GET", "/_local/idle?timeout=0"),
    ("GET", "/_local/stats"), ("POST", "/moto-api/reset"), ("GET", "/moto-api/data.json")])
@pytest.mark.parametrize("secret", [None, "forged"], ids=["no-secret", "forged-secret"])
def test_control_routes_refuse_a_request_without_the_secret(
        endpoint: Endpoint, method: str, path: str, secret: str | None) -> None:
    headers = {} if secret is None else {"X-Localcloud-Secret": secret}

    answer = requests.request(method, f"{endpoint.url}{path}", headers=headers, timeout=10,
                              json={})

    assert answer.status_code == 403
    assert "X-Localcloud-Secret" in answer.json()["message"]


def test_the_control_secret_comes_from_the_environment_when_given(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALCLOUD_CONTROL_SECRET", "chosen-by-the-parent")

    with Endpoint(port=0) as given:
        stats = requests.get(f"{given.url}/_local/stats", timeout=10,
                             headers={"X-Localcloud-Secret": "chosen-by-the-parent"})

    assert given.control_secret == "chosen-by-the-parent"
    assert stats.status_code == 200
