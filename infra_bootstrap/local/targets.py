"""Rule-target deliveries of the local EventBridge data plane, like EventBridge does them.

Every delivery reads and writes moto's in-process backends directly (no HTTP inside the
data plane), except a Lambda invocation, which is a POST to the worker process that
registered the function (the Lambda Invoke wire shape).

Failures are typed: :class:`DeliveryFailure` carries the error code EventBridge writes in
the ``ERROR_CODE`` attribute of a dead-letter message and whether EventBridge retries it.
Source: EventBridge User Guide, "Using dead-letter queues to process undelivered events"
(rule-dlq.html): missing permissions and missing resources are not retried, they go to the
DLQ directly; the DLQ message carries RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE,
EXHAUSTED_RETRY_CONDITION and RETRY_ATTEMPTS.

>>> parse_arn("arn:aws:logs:eu-west-1:111111111111:log-group:/aws/events/x:*").resource
'log-group:/aws/events/x:*'
>>> log_group_name(parse_arn("arn:aws:logs:eu-west-1:111111111111:log-group:/aws/events/x:*"))
'/aws/events/x'
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from moto.backends import get_backend

from infra_bootstrap import names
from infra_bootstrap.local.policy import (
    Decision,
    PolicyError,
    Principal,
    evaluate,
    is_allowed_by_identity,
)

EVENTS_PRINCIPAL = "events.amazonaws.com"
PARTITION = "aws"
# One log stream per log group, written by the data plane (see docs/local-cloud.md).
LOG_STREAM = "eventbridge-local"

# ERROR_CODE values EventBridge documents for DLQ messages (rule-dlq.html).
NO_RESOURCE = "NO_RESOURCE"
NO_PERMISSIONS = "NO_PERMISSIONS"
CONNECTION_FAILURE = "CONNECTION_FAILURE"
FAILED_TO_ASSUME_ROLE = "FAILED_TO_ASSUME_ROLE"
CROSS_ACCOUNT_INGESTION_FAILED = "CROSS_ACCOUNT_INGESTION_FAILED"
THIRD_ACCOUNT_HOP_DETECTED = "THIRD_ACCOUNT_HOP_DETECTED"
INVALID_PARAMETER = "INVALID_PARAMETER"
INVALID_JSON = "INVALID_JSON"
INTERNAL_ERROR = "INTERNAL_ERROR"

_MISSING: Any = object()


class BoundedCache:
    """A thread-safe memo of at most ``maxsize`` entries; the oldest entry goes first.

    Decisions are keyed by policy text, sources and detail types, which callers choose
    freely, so a plain dict would grow without bound under load.

    >>> cache = BoundedCache(2)
    >>> cache["a"], cache["b"], cache["c"] = 1, 2, 3
    >>> cache.get("a"), cache.get("c")
    (None, 3)
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._data: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __setitem__(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.maxsize:
                del self._data[next(iter(self._data))]

    def __contains__(self, key: Any) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``, computing and storing it when missing."""
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            value = compute()
            self[key] = value
        return value


class DeliveryFailure(Exception):
    """A target could not be delivered to.

    ``retriable`` follows rule-dlq.html: permission and missing-resource errors are not
    retried; connection failures are.
    """

    def __init__(self, code: str, message: str, *, retriable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retriable = retriable


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse_arn(arn: str) -> Arn:
    """Split an ARN into its parts; raises ValueError when it is not one.

    >>> parse_arn("arn:aws:sqs:eu-west-1:222222222222:q").service
    'sqs'
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"{arn!r} is not an ARN")
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def log_group_name(arn: Arn) -> str:
    """The log group name of a log-group ARN, with or without the trailing ``:*``."""
    name = arn.resource.removeprefix("log-group:")
    return name[:-2] if name.endswith(":*") else name


def function_name(arn: Arn) -> tuple[str, str | None]:
    """(name, qualifier) of a Lambda function ARN.

    >>> function_name(parse_arn("arn:aws:lambda:eu-west-1:2:function:f:live"))
    ('f', 'live')
    """
    rest = arn.resource.removeprefix("function:")
    name, _, qualifier = rest.partition(":")
    return name, qualifier or None


def now_iso_millis() -> str:
    """UTC now as AWS writes it in invocation records: ``2019-11-14T18:16:05.568Z``."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


# --- policy look-ups (moto backends) -------------------------------------------------


def decide(policy: str | None, *, principal: Principal | None, action: str, resource: str,
           context: Mapping[str, str | Sequence[str]]) -> Decision:
    """``policy.evaluate``, where a document that is not a valid policy allows nothing."""
    try:
        return evaluate(policy, principal=principal, action=action, resource=resource,
                        context=context)
    except PolicyError:
        return Decision.IMPLICIT_DENY


def service_allowed(policy: str | None, *, action: str, resource: str,
                    source_arn: str | None, source_account: str | None) -> bool:
    """May EventBridge (the service principal) do ``action`` on ``resource``?

    Context keys as EventBridge sends them to the target's service: aws:SourceArn is the
    rule ARN and aws:SourceAccount the rule's account (EventBridge User Guide, "Using IAM
    policy conditions in Amazon EventBridge": aws:SourceAccount is "the account where the
    rule specified by aws:SourceArn exists"). ``None`` leaves a key out of the request
    context, as for calls EventBridge makes without them (logs:CreateLogStream).

    >>> doc = {"Statement": {"Effect": "Allow", "Action": "sqs:SendMessage",
    ...        "Principal": {"Service": "events.amazonaws.com"},
    ...        "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:r:1:rule/x"}}}}
    >>> service_allowed(json.dumps(doc), action="sqs:SendMessage", resource="arn:aws:sqs:r:1:q",
    ...                 source_arn=None, source_account=None)
    False
    """
    if not policy:
        return False
    context = {key: value for key, value in (("aws:SourceArn", source_arn),
                                             ("aws:SourceAccount", source_account)) if value}
    return decide(policy, principal=Principal(service=EVENTS_PRINCIPAL), action=action,
                  resource=resource, context=context) is Decision.ALLOW


def role_identity_policies(role: Any) -> list[str]:
    """The inline and attached managed policy documents of a moto IAM role (read from
    copies: moto's request threads may change them meanwhile)."""
    documents = list(role.policies.values())
    for managed in list(role.managed_policies.values()):
        for version in list(managed.versions):
            if version.is_default:
                documents.append(version.document)
    return documents


def organization_id(account: str) -> str | None:
    """The AWS Organizations id of an account in moto's organizations backend, if any."""
    backend = get_backend("organizations")[account][PARTITION]
    try:
        return backend.describe_organization()["Organization"]["Id"]
    except Exception:  # moto raises AWSOrganizationsNotInUseException for non-members
        return None


# --- deliveries to moto-backed targets ------------------------------------------------


# The request context EventBridge gives CloudWatch Logs for each call of a log-group
# delivery: the rule ARN (and its account) with PutLogEvents only, nothing with
# CreateLogStream. A policy that conditions CreateLogStream on aws:SourceArn lets no event
# through. Source: aws-samples/serverless-patterns, eventbridge-cloudwatch/template.yaml,
# PR #618 ("The conditional ARN for the Rule only applies to logs:PutLogEvents"); which
# keys go with PutLogEvents: EventBridge User Guide, "Using IAM policy conditions in
# Amazon EventBridge" (aws:SourceArn, and aws:SourceAccount for the rule's account).
LOGS_CALLS: tuple[tuple[str, bool], ...] = (
    ("logs:CreateLogStream", False),   # (action, with aws:SourceArn / aws:SourceAccount)
    ("logs:PutLogEvents", True),
)


def logs_policies_allow(policies: Sequence[str], *, stream_arn: str, rule_arn: str,
                        rule_account: str) -> bool:
    """Do the account's Logs resource policies let EventBridge create the stream and put
    the event, each call with the request context EventBridge gives it (LOGS_CALLS)?

    >>> create = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
    ...           "Action": "logs:CreateLogStream", "Resource": "*"}
    >>> put = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
    ...        "Action": "logs:PutLogEvents", "Resource": "*",
    ...        "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:r:1:rule/b/r"}}}
    >>> logs_policies_allow([json.dumps({"Statement": [create, put]})], stream_arn="s",
    ...                     rule_arn="arn:aws:events:r:1:rule/b/r", rule_account="1")
    True
    >>> both = dict(put, Action=["logs:CreateLogStream", "logs:PutLogEvents"])
    >>> logs_policies_allow([json.dumps({"Statement": [both]})], stream_arn="s",
    ...                     rule_arn="arn:aws:events:r:1:rule/b/r", rule_account="1")
    False
    """
    return all(
        any(service_allowed(p, action=action, resource=stream_arn,
                            source_arn=rule_arn if with_source else None,
                            source_account=rule_account if with_source else None)
            for p in policies)
        for action, with_source in LOGS_CALLS)


class LogWriter:
    """Writes events to CloudWatch Logs log groups through moto's logs backend.

    As on AWS, a log group target is written only if a Logs resource policy of the log
    group's account lets events.amazonaws.com do logs:CreateLogStream and
    logs:PutLogEvents (EventBridge User Guide, "Using resource-based policies for Amazon
    EventBridge", CloudWatch Logs permissions); with no such policy nothing is written.
    Each action is evaluated with the context EventBridge sends with it (LOGS_CALLS), on
    the log stream's ARN (the resource that policies written as ``log-group:<name>:*``
    match).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decisions = BoundedCache()

    def write(self, target: Arn, raw_event: str, *, rule_arn: str, rule_account: str) -> None:
        backend = get_backend("logs")[target.account][target.region]
        group_name = log_group_name(target)
        group = backend.groups.get(group_name)
        if group is None:
            raise DeliveryFailure(NO_RESOURCE, f"log group {group_name} does not exist")
        stream_arn = (f"{names.log_group_arn(target.region, target.account, group_name)}"
                      f":log-stream:{LOG_STREAM}")
        policies = tuple(p.policy_document for p in list(backend.resource_policies.values()))
        allowed = self._decisions.memo(
            (stream_arn, rule_arn, rule_account, policies),
            lambda: logs_policies_allow(policies, stream_arn=stream_arn, rule_arn=rule_arn,
                                        rule_account=rule_account))
        if not allowed:
            raise DeliveryFailure(NO_PERMISSIONS, "no CloudWatch Logs resource policy lets "
                                  f"{EVENTS_PRINCIPAL} write to {group_name}")
        with self._lock:
            stream = group.streams.get(LOG_STREAM)
            if stream is None:
                group.create_log_stream(LOG_STREAM)
                stream = group.streams[LOG_STREAM]
            stream.put_log_events([{"timestamp": int(time.time() * 1000), "message": raw_event}])


class QueueWriter:
    """Sends messages to SQS queues through moto's SQS backend."""

    def __init__(self) -> None:
        self._decisions = BoundedCache()

    def queue(self, target: Arn) -> Any:
        queues = get_backend("sqs")[target.account][target.region].queues
        queue = queues.get(target.resource)
        if queue is None:
            raise DeliveryFailure(NO_RESOURCE, f"queue {target} does not exist")
        return queue

    def send_as_eventbridge(self, target: Arn, body: str, *, rule_arn: str, rule_account: str,
                            attributes: Mapping[str, str] | None = None,
                            group_id: str | None = None) -> None:
        """Send as the events.amazonaws.com principal: the queue policy must allow it.

        Source: EventBridge User Guide, "Amazon SQS permissions" (resource-based
        policies) and "Granting permissions to the dead-letter queue" (rule-dlq.html).
        """
        queue = self.queue(target)
        policy = queue.policy
        allowed = self._decisions.memo(
            (str(target), rule_arn, policy),
            lambda: service_allowed(policy, action="sqs:SendMessage", resource=str(target),
                                    source_arn=rule_arn, source_account=rule_account))
        if not allowed:
            raise DeliveryFailure(NO_PERMISSIONS, f"the policy of queue {target} does not let "
                                  f"{EVENTS_PRINCIPAL} send messages for {rule_arn}")
        self.send(target, body, attributes=attributes, group_id=group_id)

    def send(self, target: Arn, body: str, *, attributes: Mapping[str, str] | None = None,
             group_id: str | None = None) -> None:
        """Send without a permission check (Lambda destinations use the function's role)."""
        queue = self.queue(target)
        message_attributes = {name: {"DataType": "String", "StringValue": value}
                              for name, value in (attributes or {}).items()}
        dedup = str(uuid.uuid4()) if queue.name.endswith(".fifo") else None
        get_backend("sqs")[target.account][target.region].send_message(
            queue_name=queue.name, message_body=body,
            message_attributes=message_attributes or None,
            group_id=group_id, deduplication_id=dedup)


def dlq_attributes(*, rule_arn: str, target_arn: str, failure: DeliveryFailure,
                   retry_attempts: int, exhausted: str | None) -> dict[str, str]:
    """Message attributes of an EventBridge dead-letter message (rule-dlq.html).

    >>> sorted(dlq_attributes(rule_arn="r", target_arn="t", retry_attempts=0, exhausted=None,
    ...        failure=DeliveryFailure(NO_RESOURCE, "gone")))
    ['ERROR_CODE', 'ERROR_MESSAGE', 'RETRY_ATTEMPTS', 'RULE_ARN', 'TARGET_ARN']
    """
    attributes = {"RULE_ARN": rule_arn, "TARGET_ARN": target_arn, "ERROR_CODE": failure.code,
                  "ERROR_MESSAGE": failure.message, "RETRY_ATTEMPTS": str(retry_attempts)}
    if exhausted:
        attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
    return attributes


# --- Lambda ------------------------------------------------------------------------------

# Lambda's asynchronous invocation defaults (Lambda Developer Guide, "Asynchronous
# invocation" / "Configuring error handling for asynchronous invocation"): two retries,
# one minute before the second attempt and two minutes before the third; events up to
# six hours old.
LAMBDA_DEFAULT_MAX_RETRIES = 2
LAMBDA_DEFAULT_MAX_EVENT_AGE_S = 21600
LAMBDA_RETRY_DELAYS_S = (60.0, 120.0)


@dataclass(frozen=True)
class AsyncInvokeConfig:
    """A function's asynchronous invocation settings (PutFunctionEventInvokeConfig)."""

    max_retries: int = LAMBDA_DEFAULT_MAX_RETRIES
    max_event_age_s: float = LAMBDA_DEFAULT_MAX_EVENT_AGE_S
    on_failure: str | None = None
    on_success: str | None = None

    @classmethod
    def from_moto(cls, function: Any) -> AsyncInvokeConfig:
        configs = getattr(function, "event_invoke_config", None) or []
        if not configs:
            return cls()
        raw = configs[-1].config
        destinations = raw.get("DestinationConfig") or {}
        return cls(
            max_retries=int(raw.get("MaximumRetryAttempts", LAMBDA_DEFAULT_MAX_RETRIES)),
            max_event_age_s=float(raw.get("MaximumEventAgeInSeconds",
                                          LAMBDA_DEFAULT_MAX_EVENT_AGE_S)),
            on_failure=(destinations.get("OnFailure") or {}).get("Destination"),
            on_success=(destinations.get("OnSuccess") or {}).get("Destination"),
        )


@dataclass
class InvocationResult:
    """What one attempt returned: a result, or a function error payload."""

    status: int
    payload: Any
    function_error: str | None = None


def invocation_record(*, request_id: str, function_arn: str, condition: str,
                      invoke_count: int, event: Any, result: InvocationResult) -> dict[str, Any]:
    """The record Lambda sends to an asynchronous invocation destination.

    Source: Lambda Developer Guide, "Capturing records of Lambda asynchronous
    invocations" (invocation record example: version, timestamp, requestContext with
    condition RetriesExhausted / EventAgeExceeded / Success, requestPayload,
    responseContext, responsePayload).
    """
    response_context: dict[str, Any] = {"statusCode": result.status,
                                        "executedVersion": "$LATEST"}
    if result.function_error:
        response_context["functionError"] = result.function_error
    return {
        "version": "1.0",
        "timestamp": now_iso_millis(),
        "requestContext": {"requestId": request_id,
                           "functionArn": f"{function_arn}:$LATEST",
                           "condition": condition,
                           "approximateInvokeCount": invoke_count},
        "requestPayload": event,
        "responseContext": response_context,
        "responsePayload": result.payload,
    }


@dataclass
class LambdaRegistry:
    """Function ARN -> base URL of the worker process that runs it."""

    routes: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, function_arn: str, url: str) -> None:
        arn = parse_arn(function_arn)
        if arn.service != "lambda" or not arn.resource.startswith("function:"):
            raise ValueError(f"{function_arn!r} is not a Lambda function ARN")
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"{url!r} is not an http://host:port URL")
        with self.lock:
            self.routes[function_arn] = f"http://{parts.hostname}:{parts.port}"

    def url_for(self, function_arn: str) -> str | None:
        with self.lock:
            url = self.routes.get(function_arn)
            if url is None:
                arn = parse_arn(function_arn)
                name, _ = function_name(arn)
                unqualified = str(Arn(arn.partition, "lambda", arn.region, arn.account,
                                      f"function:{name}"))
                url = self.routes.get(unqualified)
            return url


def invoke_worker(url: str, name: str, body: str, *, timeout_s: float,
                  request_id: str) -> InvocationResult:
    """POST the event to the worker, as Lambda's Invoke API shape; raises OSError when the
    worker is unreachable."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
    try:
        connection.request(
            "POST", f"/2015-03-31/functions/{quote(name, safe='')}/invocations",
            body=body.encode("utf-8"),
            headers={"Content-Type": "application/json", "X-Amzn-RequestId": request_id})
        try:
            response = connection.getresponse()
            data = response.read()
        except TimeoutError:
            return InvocationResult(200, {
                "errorMessage": f"Task timed out after {timeout_s:.2f} seconds",
                "errorType": "Sandbox.Timedout"}, "Unhandled")
    finally:
        connection.close()
    try:
        payload = json.loads(data) if data else None
    except ValueError:
        payload = data.decode("utf-8", "replace")
    error = response.getheader("X-Amz-Function-Error")
    if response.status != 200 and not error:
        return InvocationResult(response.status, {
            "errorMessage": f"the worker answered HTTP {response.status}",
            "errorType": "ServiceException"}, "Unhandled")
    return InvocationResult(response.status, payload, error)


def check_lambda_target(target: Arn, *, rule_arn: str, rule_account: str,
                        decisions: BoundedCache) -> Any:
    """The moto function behind a Lambda target, if EventBridge may invoke it.

    EventBridge needs the function's resource-based policy to allow lambda:InvokeFunction
    for events.amazonaws.com (EventBridge User Guide, "Lambda permissions").
    """
    backend = get_backend("lambda")[target.account][target.region]
    name, qualifier = function_name(target)
    try:
        function = backend.get_function(name, qualifier)
    except Exception:  # moto raises UnknownFunctionException
        raise DeliveryFailure(NO_RESOURCE, f"function {target} does not exist") from None
    try:
        policy = json.loads(backend.get_policy(name, qualifier))["Policy"]
    except Exception:  # no statements -> moto raises GenericResourcNotFound
        policy = None
    allowed = decisions.memo(
        ("lambda", str(target), rule_arn, policy),
        lambda: service_allowed(policy, action="lambda:InvokeFunction",
                                resource=function.function_arn, source_arn=rule_arn,
                                source_account=rule_account))
    if not allowed:
        raise DeliveryFailure(NO_PERMISSIONS, f"the resource policy of {target} does not "
                              f"let {EVENTS_PRINCIPAL} invoke it for {rule_arn}")
    return function


# --- event bus targets -------------------------------------------------------------------


@dataclass(frozen=True)
class BusAdmission:
    """Who delivers to a bus target, for the receiving bus policy check."""

    principal: Principal
    context: Mapping[str, str | Sequence[str]]


def check_role_for_bus(role_arn: str, *, bus_arn: str, rule_arn: str, rule_account: str,
                       cache: BoundedCache) -> None:
    """A bus target's RoleArn: trusted by events.amazonaws.com and allowed
    events:PutEvents on the target bus.

    Source: EventBridge User Guide, "Sending and receiving events between AWS accounts"
    and "Permissions for event buses" (the role's trust and permissions policies).
    """
    try:
        role_account = parse_arn(role_arn).account
        role = get_backend("iam")[role_account][PARTITION].get_role_by_arn(role_arn)
    except Exception:
        raise DeliveryFailure(FAILED_TO_ASSUME_ROLE, f"role {role_arn} does not exist") from None
    documents = tuple(role_identity_policies(role))
    key = ("role", role_arn, bus_arn, rule_arn, role.assume_role_policy_document, documents)
    failure = cache.memo(key, lambda: _role_failure(role, documents, bus_arn=bus_arn,
                                                     rule_arn=rule_arn,
                                                     rule_account=rule_account))
    if failure is not None:
        raise failure


def _role_failure(role: Any, documents: tuple[str, ...], *, bus_arn: str, rule_arn: str,
                  rule_account: str) -> DeliveryFailure | None:
    trusted = decide(role.assume_role_policy_document,
                     principal=Principal(service=EVENTS_PRINCIPAL), action="sts:AssumeRole",
                     resource=role.arn,
                     context={"aws:SourceArn": rule_arn, "aws:SourceAccount": rule_account})
    if trusted is not Decision.ALLOW:
        return DeliveryFailure(FAILED_TO_ASSUME_ROLE, f"role {role.arn} does not trust "
                               f"{EVENTS_PRINCIPAL}")
    try:
        allowed = is_allowed_by_identity(documents, action="events:PutEvents",
                                         resource=bus_arn, context={})
    except PolicyError:
        allowed = False
    if not allowed:
        return DeliveryFailure(NO_PERMISSIONS, f"role {role.arn} is not allowed "
                               f"events:PutEvents on {bus_arn}")
    return None
