"""The local EventBridge data plane: PutEvents, rules, matching, one bus->bus hop, delivery.

The control plane (buses, rules, targets, policies, roles, queues, log groups, functions)
lives in moto's in-process backends; the router reads it there on every event and writes
log events and SQS messages there directly. Each rule below cites the AWS documentation
it follows; docs/local-cloud.md lists them all, with the known differences from AWS.

>>> router = Router()                                              # doctest: +SKIP
>>> router.put_events(Caller("222222222222", "eu-west-1"), [{"Source": "order-service",
...     "DetailType": "Order.Created", "Detail": "{}",
...     "EventBusName": "arn:aws:events:eu-west-1:111111111111:event-bus/global-bus"}])
...                                                                # doctest: +SKIP
{'FailedEntryCount': 0, 'Entries': [{'EventId': '...'}]}
>>> router.wait_idle(5)                                            # doctest: +SKIP
True
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import queue
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.backends import get_backend

from infra_bootstrap import names
from infra_bootstrap.local import targets as t
from infra_bootstrap.local.patterns import EventPattern, InvalidEventPattern, compile_pattern
from infra_bootstrap.local.policy import Decision, Principal

log = logging.getLogger(__name__)

# PutEvents limits. Source: EventBridge API Reference, PutEvents (Entries: 1 to 10 items)
# and EventBridge User Guide, "Calculating PutEvents event entry size" (256 KB in total).
MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
TIME_ENTRY_BYTES = 14

# EventBridge's default RetryPolicy: 24 hours and up to 185 attempts, exponential back off
# with jitter. Source: EventBridge User Guide, "Event retry policy and using dead-letter
# queues" (rule-dlq.html).
EB_DEFAULT_MAX_RETRIES = 185
EB_DEFAULT_MAX_AGE_S = 86400
ENABLED_STATES = frozenset({"ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"})

_BUS_ARN = re.compile(r"^arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):event-bus/(.+)$")
_ARCHIVE_ARN = re.compile(
    r'"archive-arn": "arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):archive/([^:"]+):([^"]+)"')
_BUS_NAME = re.compile(r"^[/.\-_A-Za-z0-9]{1,256}$")
# TestEventPattern: "the following fields are mandatory: id, account, source, time,
# region, resources, detail-type" (EventBridge API Reference, TestEventPattern).
_TEST_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")


class EventsApiError(Exception):
    """A request-level AWS error (the whole call fails), e.g. ResourceNotFoundException."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Caller:
    """Who signed the request: the account of its access key, its principal ARN (the
    assumed-role session ARN for STS credentials, the user ARN for an IAM user's key),
    and the region."""

    account: str
    region: str
    arn: str | None = None

    @property
    def principal_arn(self) -> str:
        return self.arn or names.account_root_arn(self.account)


@dataclass(frozen=True)
class BusRef:
    account: str
    region: str
    name: str

    @property
    def arn(self) -> str:
        return names.bus_arn(self.region, self.account, self.name)


@dataclass(frozen=True)
class EntryError:
    code: str
    message: str


@dataclass
class RoutedEvent:
    """One event as it travels: the envelope (for matching) and its JSON, made once.

    ``hops`` counts bus->bus deliveries; an event that arrived from another bus
    (hops >= 1) is never forwarded to a further bus.
    """

    envelope: Mapping[str, Any]
    raw: str
    hops: int = 0
    ingested: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class RouterConfig:
    """Tuning of the local data plane.

    ``time_scale``: local seconds per AWS second for every delay and event age (retry
    back-off, Lambda's 1 and 2 minute retry waits, MaximumEventAgeInSeconds). The default
    turns a minute into 0.1 s.
    """

    time_scale: float = 1 / 600
    lambda_concurrency: int = 64
    eb_backoff_base_s: float = 1.0
    eb_backoff_cap_s: float = 300.0
    max_recorded_failures: int = 1000
    # Back-pressure: beyond this many events queued, in delivery or waiting for a retry,
    # PutEvents fails further entries with ThrottlingException (retryable, as on AWS)
    # instead of letting memory grow without bound.
    max_pending: int = 100_000
    # Entries kept by each memo of decisions, policies and compiled patterns.
    cache_size: int = 4096


# --- pure request logic ---------------------------------------------------------------


def entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size by AWS's formula: Time 14 bytes if present, then the UTF-8 bytes of
    Source, DetailType, Detail and each Resources item ("Calculating PutEvents event
    entry size", EventBridge User Guide).

    >>> entry_size({"Source": "a", "DetailType": "bc", "Detail": "{}", "Time": 1})
    19
    """
    size = TIME_ENTRY_BYTES if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if isinstance(value, str):
            size += len(value.encode("utf-8"))
    for resource in entry.get("Resources") or ():
        if isinstance(resource, str):
            size += len(resource.encode("utf-8"))
    return size


def check_request(entries: Any) -> list[Mapping[str, Any]]:
    """Request-level validation of PutEvents; raises EventsApiError(ValidationException)."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise EventsApiError("ValidationException",
                             "1 validation error detected: Value at 'entries' failed to "
                             "satisfy constraint: Member must be a list of PutEventsRequestEntry")
    if not entries:
        raise EventsApiError("ValidationException",
                             "1 validation error detected: Value '[]' at 'entries' failed to "
                             "satisfy constraint: Member must have length greater than or "
                             "equal to 1")
    if len(entries) > MAX_ENTRIES:
        raise EventsApiError("ValidationException",
                             "1 validation error detected: Value '[PutEventsRequestEntry]' at "
                             "'entries' failed to satisfy constraint: Member must have length "
                             "less than or equal to 10")
    if sum(entry_size(e) for e in entries) > MAX_REQUEST_BYTES:
        raise EventsApiError("ValidationException",
                             "Total size of the entries in the request is over the limit.")
    return entries


def check_entry(entry: Mapping[str, Any]) -> tuple[dict[str, Any] | None, EntryError | None]:
    """Per-entry validation: (parsed Detail, None) or (None, the entry's error).

    Codes and messages as AWS returns them (PutEventsResultEntry: InvalidArgument,
    MalformedDetail, NotAuthorizedForSourceException).

    >>> check_entry({"Source": "s", "DetailType": "d", "Detail": "[1]"})[1].code
    'MalformedDetail'
    """
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if not isinstance(value, str) or not value:
            return None, EntryError("InvalidArgument", f"Parameter {key} is not valid. "
                                    f"Reason: {key} is a required argument.")
    if entry["Source"].startswith("aws."):
        # Custom events may not use an AWS service's source (EventBridge User Guide,
        # "Sending events with PutEvents").
        return None, EntryError("NotAuthorizedForSourceException", "Not authorized for the "
                                "source.")
    try:
        detail = json.loads(entry["Detail"], parse_constant=_not_json, parse_float=_finite)
    except (ValueError, RecursionError):
        detail = None
    if not isinstance(detail, dict):
        # Detail: "A valid JSON object" (API Reference, PutEventsRequestEntry).
        return None, EntryError("MalformedDetail", "Detail is malformed.")
    resources = entry.get("Resources")
    if resources is not None and not (isinstance(resources, list)
                                      and all(isinstance(r, str) for r in resources)):
        return None, EntryError("InvalidArgument", "Parameter Resources is not valid.")
    try:
        format_time(entry.get("Time"))
    except (ValueError, TypeError, OverflowError, OSError):
        # A Time that is no timestamp fails its entry, not the whole call (inferred:
        # AWS documents Time only as "Type: Timestamp", API PutEventsRequestEntry).
        return None, EntryError("InvalidArgument", "Parameter Time is not valid.")
    return detail, None


def _not_json(literal: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259): Python's parser accepts them."""
    raise ValueError(f"{literal} is not valid JSON")


def _finite(text: str) -> float:
    """A JSON number that fits a double; 1e400 would come back out as Infinity."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range")
    return value


def format_time(value: Any) -> str:
    """An entry's Time (epoch seconds as botocore sends it, or ISO 8601) or now, as the
    envelope carries it: ISO 8601 UTC, second precision, ``Z``.

    >>> format_time(0)
    '1970-01-01T00:00:00Z'
    """
    if value is None:
        moment = datetime.now(UTC)
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(float(value), UTC)
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            moment = datetime.fromtimestamp(float(value), UTC)
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_event(entry: Mapping[str, Any], detail: dict[str, Any], *, account: str,
                region: str, event_id: str | None = None) -> RoutedEvent:
    """The envelope of an accepted entry, serialized once for every target.

    Fields and order as EventBridge delivers them (EventBridge User Guide, "Amazon
    EventBridge events": version, id, detail-type, source, account, time, region,
    resources, detail); ``account`` is the publisher's account.
    """
    envelope = {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": account,
        "time": format_time(entry.get("Time")),
        "region": region,
        "resources": list(entry.get("Resources") or []),
        "detail": detail,
    }
    return RoutedEvent(envelope, json.dumps(envelope, separators=(",", ":"),
                                            ensure_ascii=False))


def resolve_bus(name_or_arn: str | None, caller: Caller) -> BusRef:
    """A bus by name (the caller's account and region) or by ARN (any account).

    Source: EventBridge API Reference, PutEventsRequestEntry.EventBusName ("the name or
    ARN of the event bus"; default: the caller's default bus).

    >>> resolve_bus("arn:aws:events:eu-west-1:111111111111:event-bus/g", Caller("2", "x"))
    BusRef(account='111111111111', region='eu-west-1', name='g')
    """
    if not name_or_arn:
        return BusRef(caller.account, caller.region, "default")
    match = _BUS_ARN.match(name_or_arn)
    if match:
        return BusRef(match.group(2), match.group(1), match.group(3))
    if not _BUS_NAME.match(name_or_arn) or name_or_arn.startswith("arn:"):
        raise EventsApiError("ValidationException", f"Parameter EventBusName is not valid: "
                             f"{name_or_arn}")
    return BusRef(caller.account, caller.region, name_or_arn)


def evaluate_test_event(pattern: str, event: str) -> bool:
    """TestEventPattern with our matcher; raises EventsApiError as AWS does."""
    compiled = validate_pattern(pattern)
    try:
        parsed = json.loads(event)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or any(k not in parsed for k in _TEST_EVENT_FIELDS):
        raise EventsApiError("ValidationException", "Parameter Event is not valid.")
    return compiled.matches(parsed)


def validate_pattern(pattern: Any) -> EventPattern:
    """PutRule/TestEventPattern pattern validation -> InvalidEventPatternException."""
    try:
        return compile_pattern(pattern)
    except InvalidEventPattern as exc:
        raise EventsApiError("InvalidEventPatternException", str(exc)) from None


def _strip_condition_key(policy: str, key: str) -> str:
    """The policy with every condition on ``key`` removed (to tell why an entry was denied)."""
    document = json.loads(policy)
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        for operator, conditions in list((statement.get("Condition") or {}).items()):
            if isinstance(conditions, dict):
                for name in [n for n in conditions if n.lower() == key]:
                    del conditions[name]
                if not conditions:
                    del statement["Condition"][operator]
    return json.dumps(document)


# --- the router --------------------------------------------------------------------------


@dataclass
class _Delivery:
    event: RoutedEvent
    rule_arn: str
    rule_account: str
    target: Mapping[str, Any]
    retries: int = 0
    started: float = field(default_factory=time.monotonic)


class Router:
    """Routes events between moto's buses: asynchronous, at-least-once, one bus->bus hop.

    ``put_events`` validates and admits entries, then queues them and returns: no target
    runs before it returns (EventBridge delivers asynchronously). One routing thread
    matches rules and writes in-memory targets (buses, log groups, SQS); Lambda
    invocations run on a thread pool, so a slow function never blocks routing.
    """

    def __init__(self, config: RouterConfig | None = None) -> None:
        self.config = config or RouterConfig()
        self.lambdas = t.LambdaRegistry()
        self.stats: dict[str, int] = {
            "accepted": 0, "failed_entries": 0, "routed": 0, "delivered": 0,
            "retried": 0, "dead_lettered": 0, "dropped": 0, "lambda_errors": 0}
        self.failures: deque[dict[str, Any]] = deque(maxlen=self.config.max_recorded_failures)
        self._stats_lock = threading.Lock()
        self._logs = t.LogWriter()
        self._queues = t.QueueWriter()
        # Bounded memos: keys hold caller-chosen sources, detail types and policy texts.
        self._patterns = t.BoundedCache(self.config.cache_size)
        self._policy_cache = t.BoundedCache(self.config.cache_size)
        self._decisions = t.BoundedCache(self.config.cache_size)
        self._work: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._timers: list[tuple[float, int, Callable[[], None], bool]] = []
        self._timer_seq = itertools.count()
        self._timer_wake = threading.Condition()
        self._lambda_pool = ThreadPoolExecutor(self.config.lambda_concurrency,
                                               thread_name_prefix="local-lambda")
        self._stopping = False
        self._threads = [threading.Thread(target=self._route_loop, name="local-router",
                                          daemon=True),
                         threading.Thread(target=self._timer_loop, name="local-router-timers",
                                          daemon=True)]
        for thread in self._threads:
            thread.start()

    # -- public API -------------------------------------------------------------------

    def put_events(self, caller: Caller, entries: Any) -> dict[str, Any]:
        """PutEvents semantics; returns the response body (Entries, FailedEntryCount)."""
        entries = check_request(entries)
        results: list[dict[str, str]] = []
        accepted: list[tuple[BusRef, RoutedEvent]] = []
        org_ids: dict[str, str | None] = {}
        for entry in entries:
            bus_ref = resolve_bus(entry.get("EventBusName"), caller)
            bus = self._bus(bus_ref)
            if bus is None:
                # An unknown bus fails the call, never a silent drop (AWS answers
                # ResourceNotFoundException "Event bus <name> does not exist.").
                raise EventsApiError("ResourceNotFoundException",
                                     f"Event bus {bus_ref.name} does not exist.")
            detail, error = check_entry(entry)
            if error is None:
                if caller.account not in org_ids:
                    org_ids[caller.account] = (t.organization_id(caller.account)
                                               if bus_ref.account != caller.account else None)
                error = self._admit_publisher(caller, bus_ref, bus, entry,
                                              org_ids[caller.account])
            if error is None and self._pending + len(accepted) >= self.config.max_pending:
                # Retryable per-entry error (API PutEventsResultEntry: ThrottlingException,
                # "The request was denied due to request throttling").
                error = EntryError("ThrottlingException", "Rate exceeded.")
            if error is not None:
                results.append({"ErrorCode": error.code, "ErrorMessage": error.message})
                continue
            assert detail is not None
            event = build_event(entry, detail, account=caller.account, region=bus_ref.region)
            results.append({"EventId": event.envelope["id"]})
            accepted.append((bus_ref, event))
        failed = len(entries) - len(accepted)
        self._count("accepted", len(accepted))
        self._count("failed_entries", failed)
        for bus_ref, event in accepted:
            self._enqueue(lambda b=bus_ref, e=event: self._route(b, e))
        return {"FailedEntryCount": failed, "Entries": results}

    def register_lambda(self, function_arn: str, url: str) -> None:
        """Route deliveries to ``function_arn`` to the worker at ``url``."""
        self.lambdas.register(function_arn, url)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no event is queued, being delivered or waiting for a retry."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    @property
    def pending(self) -> int:
        return self._pending

    def stop(self) -> None:
        self._stopping = True
        self._work.put(None)
        with self._timer_wake:
            self._timer_wake.notify()
        self._lambda_pool.shutdown(wait=False, cancel_futures=True)

    # -- admission ----------------------------------------------------------------------

    def _bus(self, ref: BusRef) -> Any:
        return get_backend("events")[ref.account][ref.region].event_buses.get(ref.name)

    def _bus_policy(self, bus: Any) -> str | None:
        """The bus policy JSON, rebuilt only when moto's statements change."""
        statements = getattr(bus, "_statements", None)
        key = ("policy", id(bus), tuple(map(id, list(statements.values())))
               if statements else ())
        return self._policy_cache.memo(key, lambda: bus.policy)

    def _admit_publisher(self, caller: Caller, ref: BusRef, bus: Any,
                         entry: Mapping[str, Any], org_id: str | None) -> EntryError | None:
        """A PutEvents entry against the target bus's resource policy.

        Another account's caller needs an Allow; a caller of the bus's own account is
        refused only by an explicit Deny (IAM User Guide, "Policy evaluation logic" and
        "Cross-account policy evaluation logic"). Source: EventBridge User Guide,
        "Permissions for event buses" and "Using IAM policy conditions" (events:source,
        events:detail-type, aws:PrincipalOrgID).
        """
        policy = self._bus_policy(bus)
        same_account = ref.account == caller.account
        if same_account and not policy:
            return None
        key = ("publish", policy, caller, ref.arn, entry["Source"], entry["DetailType"], org_id)
        return self._decisions.memo(key, lambda: self._publisher_error(
            caller, ref.arn, policy, entry, org_id, same_account=same_account))

    def _publisher_error(self, caller: Caller, bus_arn: str, policy: str | None,
                         entry: Mapping[str, Any], org_id: str | None, *,
                         same_account: bool = False) -> EntryError | None:
        # aws:PrincipalAccount and aws:PrincipalArn (the role ARN for an assumed-role
        # session) are derived from the principal by policy.evaluate.
        principal = Principal(account=caller.account, arn=caller.principal_arn)
        context: dict[str, str] = {"events:source": entry["Source"],
                                   "events:detail-type": entry["DetailType"]}
        if org_id:
            context["aws:PrincipalOrgID"] = org_id

        def decide(document: str | None) -> Decision:
            return t.decide(document, principal=principal, action="events:PutEvents",
                            resource=bus_arn, context=context)

        decision = decide(policy)
        if decision is Decision.ALLOW or (same_account
                                          and decision is not Decision.EXPLICIT_DENY):
            return None
        if policy and decision is Decision.IMPLICIT_DENY:
            # Tell which condition refused it, as AWS's per-entry error codes do
            # (PutEventsResultEntry: NotAuthorizedForSourceException,
            # NotAuthorizedForDetailTypeException, AccessDeniedException).
            if decide(_strip_condition_key(policy, "events:source")) is Decision.ALLOW:
                return EntryError("NotAuthorizedForSourceException",
                                  "Not authorized for the source.")
            if decide(_strip_condition_key(policy, "events:detail-type")) is Decision.ALLOW:
                return EntryError("NotAuthorizedForDetailTypeException",
                                  "Not authorized for the detail type.")
        why = ("with an explicit deny in a resource-based policy"
               if decision is Decision.EXPLICIT_DENY
               else "because no resource-based policy allows the events:PutEvents action")
        return EntryError("AccessDeniedException",
                          f"User: {caller.principal_arn} is not authorized to perform: "
                          f"events:PutEvents on resource: {bus_arn} {why}")

    # -- work accounting ------------------------------------------------------------------

    def _count(self, name: str, amount: int = 1) -> None:
        """Add to a statistic; request, routing and Lambda threads all count."""
        with self._stats_lock:
            self.stats[name] += amount

    def _acquire(self) -> None:
        with self._idle:
            self._pending += 1

    def _release(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def _enqueue(self, work: Callable[[], None]) -> None:
        self._acquire()
        self._work.put(work)

    def _submit_lambda(self, work: Callable[[], None]) -> None:
        self._acquire()

        def run() -> None:
            try:
                work()
            except Exception:
                log.exception("lambda delivery crashed")
            finally:
                self._release()
        try:
            self._lambda_pool.submit(run)
        except RuntimeError:  # pool shut down
            self._release()

    def _later(self, delay_aws_s: float, work: Callable[[], None], *, on_pool: bool) -> None:
        """Run ``work`` after an AWS-time delay, scaled to local time."""
        self._acquire()
        due = time.monotonic() + delay_aws_s * self.config.time_scale
        with self._timer_wake:
            heapq.heappush(self._timers, (due, next(self._timer_seq), work, on_pool))
            self._timer_wake.notify()

    def _route_loop(self) -> None:
        while True:
            work = self._work.get()
            if work is None:
                return
            try:
                work()
            except Exception:
                log.exception("routing crashed")
            finally:
                self._release()

    def _timer_loop(self) -> None:
        while not self._stopping:
            with self._timer_wake:
                while not self._stopping and (
                        not self._timers or self._timers[0][0] > time.monotonic()):
                    wait = self._timers[0][0] - time.monotonic() if self._timers else None
                    self._timer_wake.wait(wait)
                if self._stopping:
                    return
                _, _, work, on_pool = heapq.heappop(self._timers)
            # The timer's own hold is handed over to the queue or pool, then released.
            if on_pool:
                self._submit_lambda(work)
            else:
                self._enqueue(work)
            self._release()

    def _virtual_age(self, started: float) -> float:
        """Seconds since ``started`` in AWS time (local elapsed / time_scale)."""
        return (time.monotonic() - started) / self.config.time_scale

    # -- routing --------------------------------------------------------------------------

    def _pattern(self, rule: Any) -> EventPattern | None:
        raw = getattr(rule.event_pattern, "_raw_pattern", None)
        if not raw:
            return None  # a schedule rule never matches events

        def compiled() -> EventPattern | None:
            try:
                return compile_pattern(raw)
            except InvalidEventPattern:
                return None
        return self._patterns.memo(raw, compiled)

    def _route(self, bus_ref: BusRef, event: RoutedEvent) -> None:
        """Match the event against the bus's enabled rules and deliver to their targets.

        Disabled rules do not match (API Reference, DisableRule: "A disabled rule won't
        match any events").
        """
        bus = self._bus(bus_ref)
        if bus is None:
            return
        self._count("routed")
        for rule in list(bus.rules.values()):
            try:
                if rule.state not in ENABLED_STATES:
                    continue
                pattern = self._pattern(rule)
                if pattern is None or not pattern.matches(event.envelope):
                    continue
                deliveries = [_Delivery(event, rule.arn, rule.account_id, dict(target))
                              for target in list(rule.targets)]
            except Exception:  # e.g. moto's rule model changed shape: skip this rule only
                log.exception("cannot read rule %s of %s", getattr(rule, "name", "?"),
                              bus_ref.arn)
                continue
            for delivery in deliveries:
                self._deliver(delivery)

    def _deliver(self, delivery: _Delivery) -> None:
        target_arn = delivery.target.get("Arn", "")
        try:
            arn = t.parse_arn(target_arn)
            if arn.service == "events" and arn.resource.startswith("event-bus/"):
                self._to_bus(delivery, arn)
            elif arn.service == "logs" and arn.resource.startswith("log-group:"):
                self._logs.write(arn, self._payload(delivery), rule_arn=delivery.rule_arn,
                                 rule_account=delivery.rule_account)
            elif arn.service == "sqs":
                group = (delivery.target.get("SqsParameters") or {}).get("MessageGroupId")
                self._queues.send_as_eventbridge(arn, self._payload(delivery),
                                                 rule_arn=delivery.rule_arn,
                                                 rule_account=delivery.rule_account,
                                                 group_id=group)
            elif arn.service == "lambda":
                self._to_lambda(delivery, arn)
                return
            elif arn.service == "events" and not arn.account:  # moto archive rule
                self._to_archive(delivery)
            else:
                raise t.DeliveryFailure(t.INVALID_PARAMETER, f"target type {arn.service} is "
                                        "not supported by the local cloud")
        except t.DeliveryFailure as failure:
            self._failed(delivery, failure)
            return
        except ValueError as exc:
            self._failed(delivery, t.DeliveryFailure(t.INVALID_PARAMETER, str(exc)))
            return
        except Exception as exc:
            # Not a target error but ours (e.g. a moto model changed shape): this target
            # fails with AWS's INTERNAL_ERROR code (rule-dlq.html), the others still run.
            log.exception("delivery of %s to %s crashed", delivery.event.envelope.get("id"),
                          target_arn)
            self._failed(delivery, t.DeliveryFailure(
                t.INTERNAL_ERROR, f"local data plane error: {type(exc).__name__}: {exc}"))
            return
        self._count("delivered")

    def _to_archive(self, delivery: _Delivery) -> None:
        """The rule moto's CreateArchive made: keep the event in moto's archive, so that
        DescribeArchive counts it (EventBridge User Guide, "Archiving and replaying
        events"). Replays run in moto, not through this router."""
        template = (delivery.target.get("InputTransformer") or {}).get("InputTemplate", "")
        match = _ARCHIVE_ARN.search(template)
        if match is None:
            raise t.DeliveryFailure(t.INVALID_PARAMETER, "not an archive target")
        region, account, name, archive_uuid = match.groups()
        archive = get_backend("events")[account][region].archives.get(name)
        if archive is None or archive.uuid != archive_uuid:
            raise t.DeliveryFailure(t.NO_RESOURCE, f"archive {name} does not exist")
        archive.events.append(dict(delivery.event.envelope))

    def _payload(self, delivery: _Delivery) -> str:
        """What the target receives: the event JSON, or the target's Input / InputPath.

        Source: API Reference, Target (Input: "Valid JSON text passed to the target";
        InputPath: "The value of the JSONPath that is used for extracting part of the
        matched event"). InputTransformer is not supported locally.
        """
        target = delivery.target
        if target.get("InputTransformer"):
            raise t.DeliveryFailure(t.INVALID_PARAMETER, "InputTransformer is not supported "
                                    "by the local cloud")
        if target.get("Input") is not None:
            return target["Input"]
        path = target.get("InputPath")
        if path:
            value: Any = delivery.event.envelope
            for part in path.removeprefix("$").strip(".").split("."):
                if not part:
                    continue
                if not isinstance(value, Mapping) or part not in value:
                    raise t.DeliveryFailure(t.INVALID_JSON, f"InputPath {path} does not "
                                            "match the event")
                value = value[part]
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return delivery.event.raw

    def _to_bus(self, delivery: _Delivery, arn: t.Arn) -> None:
        """Deliver to another bus, keeping the envelope byte-identical.

        One hop only: "If a receiver account sets up a rule that sends events received
        from a sender account on to a third account, these events are not sent to the
        third account" (EventBridge User Guide, "Sending and receiving events between AWS
        accounts"). A cross-account target bus must admit the sender: through its policy
        for the sending account, or for the target's RoleArn, which must itself be trusted
        by events.amazonaws.com and allowed events:PutEvents on that bus.
        """
        event = delivery.event
        if event.hops >= 1:
            raise t.DeliveryFailure(t.THIRD_ACCOUNT_HOP_DETECTED, f"event {event.envelope['id']} "
                                    "arrived from another bus and is not forwarded again")
        target_ref = BusRef(arn.account, arn.region, arn.resource.removeprefix("event-bus/"))
        bus = self._bus(target_ref)
        if bus is None:
            raise t.DeliveryFailure(t.NO_RESOURCE, f"event bus {target_ref.arn} does not exist")
        role_arn = delivery.target.get("RoleArn")
        if role_arn:
            t.check_role_for_bus(role_arn, bus_arn=target_ref.arn, rule_arn=delivery.rule_arn,
                                 rule_account=delivery.rule_account, cache=self._decisions)
            sender = Principal(account=t.parse_arn(role_arn).account, arn=role_arn)
        else:
            sender = Principal(account=delivery.rule_account,
                               arn=names.account_root_arn(delivery.rule_account))
        self._admit_forward(delivery, bus, target_ref, sender)
        forwarded = RoutedEvent(event.envelope, event.raw, hops=event.hops + 1)
        self._enqueue(lambda: self._route(target_ref, forwarded))

    def _admit_forward(self, delivery: _Delivery, bus: Any, ref: BusRef,
                       sender: Principal) -> None:
        """The receiving bus's policy: an Allow for another account's sender, no explicit
        Deny for a sender of the bus's own account (IAM User Guide, "Policy evaluation
        logic")."""
        policy = self._bus_policy(bus)
        same_account = sender.account == ref.account
        if same_account and not policy:
            return
        envelope = delivery.event.envelope
        key = ("forward", policy, sender, ref.arn, delivery.rule_arn, envelope["source"],
               envelope["detail-type"])

        def admitted() -> bool:
            context: dict[str, str] = {
                "aws:PrincipalAccount": sender.account or "",
                "aws:PrincipalArn": sender.arn or "",
                "aws:SourceArn": delivery.rule_arn,
                "aws:SourceAccount": delivery.rule_account,
                "events:source": envelope["source"],
                "events:detail-type": envelope["detail-type"],
                "events:eventBusInvocation": "true",
            }
            org_id = t.organization_id(sender.account) if sender.account else None
            if org_id:
                context["aws:PrincipalOrgID"] = org_id
            decision = t.decide(policy, principal=sender, action="events:PutEvents",
                                resource=ref.arn, context=context)
            return decision is Decision.ALLOW or (same_account
                                                  and decision is not Decision.EXPLICIT_DENY)
        if not self._decisions.memo(key, admitted):
            # Same account: a permission error, not a cross-account ingestion failure
            # (inferred from the code names of rule-dlq.html).
            raise t.DeliveryFailure(t.NO_PERMISSIONS if same_account
                                    else t.CROSS_ACCOUNT_INGESTION_FAILED,
                                    f"the policy of {ref.arn} does not admit {sender.arn}")

    # -- Lambda ---------------------------------------------------------------------------

    def _to_lambda(self, delivery: _Delivery, arn: t.Arn) -> None:
        """EventBridge invokes Lambda asynchronously (Lambda Developer Guide, "Invoking a
        Lambda function asynchronously"): once Lambda has the event, function errors are
        Lambda's to retry, per the function's asynchronous invocation configuration."""
        function = t.check_lambda_target(arn, rule_arn=delivery.rule_arn,
                                         rule_account=delivery.rule_account,
                                         decisions=self._decisions)
        url = self.lambdas.url_for(str(arn))
        if url is None:
            raise t.DeliveryFailure(t.CONNECTION_FAILURE, f"no worker is registered for {arn}",
                                    retriable=True)
        payload = self._payload(delivery)
        try:
            event: Any = json.loads(payload)
        except ValueError:
            event = payload
        invocation = _Invocation(
            delivery=delivery, function_arn=function.function_arn, url=url,
            name=t.function_name(arn)[0], body=payload, event=event,
            config=t.AsyncInvokeConfig.from_moto(function),
            timeout_s=float(getattr(function, "timeout", 3) or 3))
        self._submit_lambda(lambda: self._invoke(invocation))

    def _invoke(self, inv: _Invocation) -> None:
        inv.attempts += 1
        try:
            result = t.invoke_worker(inv.url, inv.name, inv.body, timeout_s=inv.timeout_s,
                                     request_id=inv.request_id)
        except OSError as exc:
            if inv.attempts == 1:
                # Lambda never accepted the event: an EventBridge delivery failure.
                self._failed(inv.delivery, t.DeliveryFailure(
                    t.CONNECTION_FAILURE, f"worker {inv.url} unreachable: {exc}", retriable=True))
                return
            result = t.InvocationResult(500, {"errorMessage": f"worker unreachable: {exc}",
                                              "errorType": "ServiceException"}, "Unhandled")
        if inv.attempts == 1:
            self._count("delivered")
        if not result.function_error:
            if inv.config.on_success:
                self._destination(inv, inv.config.on_success, "Success", result)
            return
        self._count("lambda_errors")
        retries_done = inv.attempts - 1
        if retries_done >= inv.config.max_retries:
            self._lambda_gave_up(inv, "RetriesExhausted", result)
            return
        delay = t.LAMBDA_RETRY_DELAYS_S[min(retries_done, len(t.LAMBDA_RETRY_DELAYS_S) - 1)]
        if self._virtual_age(inv.accepted) + delay > inv.config.max_event_age_s:
            self._lambda_gave_up(inv, "EventAgeExceeded", result)
            return
        self._count("retried")
        self._later(delay, lambda: self._invoke(inv), on_pool=True)

    def _lambda_gave_up(self, inv: _Invocation, condition: str,
                        result: t.InvocationResult) -> None:
        self._record(inv.delivery, f"lambda {condition}", json.dumps(result.payload))
        if inv.config.on_failure:
            self._destination(inv, inv.config.on_failure, condition, result)
        else:
            self._count("dropped")

    def _destination(self, inv: _Invocation, destination: str, condition: str,
                     result: t.InvocationResult) -> None:
        """Send the invocation record to an SQS destination (other kinds: not locally)."""
        record = t.invocation_record(request_id=inv.request_id, function_arn=inv.function_arn,
                                     condition=condition, invoke_count=inv.attempts,
                                     event=inv.event, result=result)
        try:
            arn = t.parse_arn(destination)
            if arn.service != "sqs":
                raise t.DeliveryFailure(t.INVALID_PARAMETER, f"destination type {arn.service} "
                                        "is not supported by the local cloud")
            self._queues.send(arn, json.dumps(record))
            if condition != "Success":
                self._count("dead_lettered")
        except (t.DeliveryFailure, ValueError) as exc:
            self._count("dropped")
            self._record(inv.delivery, "destination failed", str(exc))

    # -- failures: RetryPolicy and DeadLetterConfig ------------------------------------------

    def _failed(self, delivery: _Delivery, failure: t.DeliveryFailure) -> None:
        """Retry per the target's RetryPolicy, then its DeadLetterConfig, else drop.

        Source: EventBridge User Guide, rule-dlq.html (retriable errors are retried with
        exponential back off until MaximumRetryAttempts or MaximumEventAgeInSeconds;
        permission and missing-resource errors go to the DLQ without retries).
        """
        policy = delivery.target.get("RetryPolicy") or {}
        max_retries = int(policy.get("MaximumRetryAttempts", EB_DEFAULT_MAX_RETRIES))
        max_age = float(policy.get("MaximumEventAgeInSeconds", EB_DEFAULT_MAX_AGE_S))
        exhausted = None
        if failure.retriable:
            delay = min(self.config.eb_backoff_cap_s,
                        self.config.eb_backoff_base_s * 2 ** delivery.retries)
            if delivery.retries >= max_retries:
                exhausted = "MaximumRetryAttempts"
            elif self._virtual_age(delivery.started) + delay > max_age:
                exhausted = "MaximumEventAgeInSeconds"
            else:
                delivery.retries += 1
                self._count("retried")
                self._later(delay, lambda: self._deliver(delivery), on_pool=False)
                return
        self._record(delivery, failure.code, failure.message)
        dlq = (delivery.target.get("DeadLetterConfig") or {}).get("Arn")
        if not dlq:
            self._count("dropped")
            return
        attributes = t.dlq_attributes(rule_arn=delivery.rule_arn,
                                      target_arn=delivery.target.get("Arn", ""),
                                      failure=failure, retry_attempts=delivery.retries,
                                      exhausted=exhausted)
        try:
            self._queues.send_as_eventbridge(t.parse_arn(dlq), delivery.event.raw,
                                             rule_arn=delivery.rule_arn,
                                             rule_account=delivery.rule_account,
                                             attributes=attributes)
            self._count("dead_lettered")
        except (t.DeliveryFailure, ValueError) as exc:
            self._count("dropped")
            self._record(delivery, "DLQ failed", str(exc))

    def _record(self, delivery: _Delivery, code: str, message: str) -> None:
        self.failures.append({"eventId": delivery.event.envelope.get("id"),
                              "ruleArn": delivery.rule_arn,
                              "targetArn": delivery.target.get("Arn"),
                              "code": code, "message": message})
        log.info("delivery of %s to %s failed: %s %s", delivery.event.envelope.get("id"),
                 delivery.target.get("Arn"), code, message)


@dataclass
class _Invocation:
    delivery: _Delivery
    function_arn: str
    url: str
    name: str
    body: str
    event: Any
    config: t.AsyncInvokeConfig
    timeout_s: float
    attempts: int = 0
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    accepted: float = field(default_factory=time.monotonic)


__all__ = [
    "BusRef",
    "Caller",
    "EntryError",
    "EventsApiError",
    "RoutedEvent",
    "Router",
    "RouterConfig",
    "build_event",
    "check_entry",
    "check_request",
    "entry_size",
    "evaluate_test_event",
    "format_time",
    "resolve_bus",
    "validate_pattern",
]
