"""Lambda's asynchronous invocation, as EventBridge's Lambda targets get it.

EventBridge invokes Lambda asynchronously (Lambda Developer Guide, "Invoking a Lambda
function asynchronously"): once Lambda has the event, function errors are Lambda's to
retry, per the function's asynchronous invocation configuration, and a record of the
outcome goes to its on-failure (or on-success) destination. Only a function that could
not be reached on the first attempt is EventBridge's failure (its RetryPolicy and DLQ).

>>> config = AsyncInvokeConfig.from_api({"MaximumRetryAttempts": 0,
...     "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:r:1:q"}}})
>>> config.max_retries, config.max_event_age_s, config.on_failure
(0, 21600.0, 'arn:aws:sqs:r:1:q')
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localcloud import arns
from localcloud import notices as notice
from localcloud.arns import Arn
from localcloud.delivery import (
    CONNECTION_FAILURE,
    INVALID_PARAMETER,
    Delivery,
    DeliveryFailure,
    DeliveryReport,
)
from localcloud.functions import FunctionInvoker, FunctionUnreachable, InvocationResult
from localcloud.notices import Notices
from localcloud.queues import QueueSender
from localcloud.scheduling import Scheduler, Tagged
from localcloud.state import Function

log = logging.getLogger(__name__)

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
    def from_api(cls, raw: Mapping[str, Any] | None) -> AsyncInvokeConfig:
        """From PutFunctionEventInvokeConfig's shape; None: Lambda's defaults."""
        if not raw:
            return cls()
        destinations = raw.get("DestinationConfig") or {}
        return cls(
            max_retries=int(raw.get("MaximumRetryAttempts", LAMBDA_DEFAULT_MAX_RETRIES)),
            max_event_age_s=float(raw.get("MaximumEventAgeInSeconds",
                                          LAMBDA_DEFAULT_MAX_EVENT_AGE_S)),
            on_failure=(destinations.get("OnFailure") or {}).get("Destination"),
            on_success=(destinations.get("OnSuccess") or {}).get("Destination"),
        )


def now_iso_millis() -> str:
    """UTC now as AWS writes it in invocation records: ``2019-11-14T18:16:05.568Z``."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def invocation_record(*, request_id: str, function_arn: str, condition: str,
                      invoke_count: int, event: Any, result: InvocationResult) -> dict[str, Any]:
    """The record Lambda sends to an asynchronous invocation destination.

    Source: Lambda Developer Guide, "Capturing records of Lambda asynchronous
    invocations" (invocation record example: version, timestamp, requestContext with
    condition RetriesExhausted / EventAgeExceeded / Success, requestPayload,
    responseContext, responsePayload).

    >>> record = invocation_record(request_id="r", function_arn="arn:aws:lambda:r:1:function:f",
    ...     condition="RetriesExhausted", invoke_count=3, event={"id": "e"},
    ...     result=InvocationResult(200, {"errorMessage": "boom"}, "Unhandled"))
    >>> record["requestContext"]["functionArn"], record["responseContext"]["functionError"]
    ('arn:aws:lambda:r:1:function:f:$LATEST', 'Unhandled')
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


# Errors of a run that was stopped (killed or timed out): its deadline is real time.
STOPPED_RUN_ERRORS = frozenset({"Runtime.ExitError", "Sandbox.Timedout"})
# How long after a stopped run's deadline its retry comes, at least. A handler may hold a
# lease until its invocation's deadline plus a margin for clock differences
# (backbone.idempotency: 1 s); the run's deadline also counts from when its worker read
# the request, which a loaded machine may delay. Real seconds.
STOPPED_RUN_GRACE_S = 5.0


def retry_wait_s(scaled_wait_s: float, result: InvocationResult, *, timeout_s: float) -> float:
    """The local wait before a retry: Lambda's wait, scaled, but never shorter than the
    function's timeout plus :data:`STOPPED_RUN_GRACE_S` after a run that was stopped
    (killed or timed out).

    A handler may hold a lease for its invocation's remaining time (real time) plus a
    margin. On AWS a retry that still meets the lease of the run it replaces (a run
    killed early, with a timeout over a minute) fails, and the next retry, two minutes
    later, finds it expired. Scaled to milliseconds, every retry would meet it and the
    event would be dead-lettered; so the first retry waits until the lease is surely gone.

    >>> stopped = InvocationResult(200, {"errorType": "Runtime.ExitError"}, "Unhandled")
    >>> retry_wait_s(0.1, stopped, timeout_s=3)
    8.0
    >>> retry_wait_s(0.1, InvocationResult(200, {"errorType": "ValueError"}), timeout_s=3)
    0.1
    """
    payload = result.payload if isinstance(result.payload, dict) else {}
    if payload.get("errorType") in STOPPED_RUN_ERRORS:
        return max(scaled_wait_s, timeout_s + STOPPED_RUN_GRACE_S)
    return scaled_wait_s


# How often a retry that waits for another run of the same event looks again (real s).
SAME_EVENT_POLL_S = 0.05


@dataclass
class Invocation:
    """One asynchronous invocation and its attempts so far.

    ``delivery`` is the EventBridge delivery that started it (None for an Invoke API
    call with ``InvocationType=Event``). Its age is real time, except that Lambda's retry
    waits count at their AWS length (they are scaled locally): a worker that stalls for a
    minute ages the event by a minute, not by hours of scaled time.

    >>> inv = Invocation(None, "t", "f", "{}", {}, AsyncInvokeConfig(), 3.0, accepted=100.0)
    >>> inv.waited(aws_s=60.0, local_s=0.1)
    >>> round(inv.age_s(now=100.5), 3)      # 0.4 s running + 60 s of retry wait
    60.4
    """

    delivery: Delivery | None
    target_arn: str
    function_arn: str
    body: str
    event: Any
    config: AsyncInvokeConfig
    timeout_s: float
    attempts: int = 0
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    accepted: float = field(default_factory=time.monotonic)
    waited_aws_s: float = 0.0
    waited_local_s: float = 0.0

    def waited(self, *, aws_s: float, local_s: float) -> None:
        """Count a retry wait: ``aws_s`` as Lambda waits it, ``local_s`` as waited here."""
        self.waited_aws_s += aws_s
        self.waited_local_s += local_s

    def age_s(self, now: float | None = None) -> float:
        """Seconds since Lambda accepted the event, as AWS would count them."""
        elapsed = (time.monotonic() if now is None else now) - self.accepted
        return max(0.0, elapsed - self.waited_local_s) + self.waited_aws_s

    @property
    def same_event(self) -> tuple[str, str] | None:
        """(function, event id) of an event with an ``id`` (EventBridge's): the runs of
        duplicates of one event share it; None for a payload without one."""
        event_id = self.event.get("id") if isinstance(self.event, dict) else None
        return (self.function_arn, event_id) if isinstance(event_id, str) else None


class AsyncInvocations:
    """Runs invocations on the scheduler's pool; retries function errors after Lambda's
    waits; sends invocation records to destinations.

    A retry never starts while another run of the same event (same ``id``: a duplicate
    delivery) by the same function is in progress. On AWS, Lambda's one and two minute
    waits outlast such a run, so a duplicate that failed on the run's idempotency lease
    finds it done when retried; scaled to 0.1 and 0.2 s they would not, and the duplicate
    would be dead-lettered although its event was handled.
    """

    def __init__(self, scheduler: Scheduler, invoker: FunctionInvoker, queues: QueueSender,
                 report: DeliveryReport, notices: Notices | None = None) -> None:
        self.notices = notices or Notices()
        self.scheduler = scheduler
        self.invoker = invoker
        self.queues = queues
        self.report = report
        self._running: Counter[tuple[str, str]] = Counter()
        self._running_lock = threading.Lock()

    def start(self, delivery: Delivery, target: Arn, function: Function, body: str) -> None:
        """Hand the event to Lambda; EventBridge's part ends once the first attempt ran."""
        try:
            event: Any = json.loads(body)
        except ValueError:
            event = body
        invocation = Invocation(
            delivery=delivery, target_arn=str(target), function_arn=function.arn, body=body,
            event=event, config=AsyncInvokeConfig.from_api(function.async_config),
            timeout_s=function.timeout_s)
        self.scheduler.submit(self._attempt_work(invocation))

    def invoke_async(self, function: Function, body: str) -> str:
        """An Invoke API call with ``InvocationType=Event``: queued, retried and sent to
        destinations like an EventBridge delivery; returns its request id."""
        try:
            event: Any = json.loads(body)
        except ValueError:
            event = body
        invocation = Invocation(
            delivery=None, target_arn=function.arn, function_arn=function.arn, body=body,
            event=event, config=AsyncInvokeConfig.from_api(function.async_config),
            timeout_s=function.timeout_s)
        self.scheduler.submit(self._attempt_work(invocation))
        return invocation.request_id

    def resume(self, inv: Invocation, delay_s: float) -> None:
        """Attempt an invocation a stopped local cloud kept, in ``delay_s`` local s."""
        self.scheduler.later(delay_s / self.scheduler.time_scale, self._attempt_work(inv),
                             on_pool=True)

    def _attempt_work(self, inv: Invocation) -> Tagged:
        return Tagged("invoke", inv, lambda: self._attempt(inv))

    def _attempt(self, inv: Invocation) -> None:
        """One attempt; whatever goes wrong ends as a retry, a destination record or a
        counted and logged drop. A retry waits while a run of the same event is on."""
        key = inv.same_event
        with self._running_lock:
            if key is not None and inv.attempts and self._running[key]:
                self.scheduler.later(SAME_EVENT_POLL_S / self.scheduler.time_scale,
                                     self._attempt_work(inv), on_pool=True)
                return
            if key is not None:
                self._running[key] += 1
        try:
            self._try(inv)
        except Exception as exc:
            log.exception("asynchronous invocation %s crashed", inv.request_id)
            self.report.count("dropped")
            self._record(inv, "lambda crashed", f"{type(exc).__name__}: {exc}")
        finally:
            if key is not None:
                with self._running_lock:
                    self._running[key] -= 1
                    if not self._running[key]:
                        del self._running[key]

    def _try(self, inv: Invocation) -> None:
        inv.attempts += 1
        try:
            result = self.invoker.invoke(inv.target_arn, inv.body, timeout_s=inv.timeout_s,
                                         request_id=inv.request_id)
        except FunctionUnreachable as exc:
            if inv.attempts == 1 and inv.delivery is not None:
                # Lambda never accepted the event: an EventBridge delivery failure.
                self.report.failed(inv.delivery, DeliveryFailure(
                    CONNECTION_FAILURE, str(exc), retriable=True))
                return
            result = InvocationResult(500, {"errorMessage": exc.without_location,
                                            "errorType": "ServiceException"}, "Unhandled")
        except Exception as exc:
            # The local runtime failed, not the function: Lambda answers such an attempt
            # with a ServiceException, and its async retries and destinations apply.
            log.exception("invocation %s of %s failed locally", inv.request_id,
                          inv.function_arn)
            result = InvocationResult(500, {"errorMessage": f"{type(exc).__name__}: {exc}",
                                            "errorType": "ServiceException"}, "Unhandled")
        if inv.attempts == 1 and inv.delivery is not None:
            self.report.delivered(inv.delivery)
        if not result.function_error:
            if inv.config.on_success:
                self._destination(inv, inv.config.on_success, "Success", result)
            return
        self.report.count("lambda_errors")
        self.notices.add(notice.failed_line(
            _event_id(inv), _detail_type(inv), inv.function_arn,
            str(result.function_error), _error_of(result)))
        retries_done = inv.attempts - 1
        if retries_done >= inv.config.max_retries:
            self._gave_up(inv, "RetriesExhausted", result)
            return
        delay = LAMBDA_RETRY_DELAYS_S[min(retries_done, len(LAMBDA_RETRY_DELAYS_S) - 1)]
        if inv.age_s() + delay > inv.config.max_event_age_s:
            self._gave_up(inv, "EventAgeExceeded", result)
            return
        self.report.count("retried")
        self.notices.add(notice.retry_line(_event_id(inv), _detail_type(inv), inv.function_arn,
                                           inv.attempts))
        local_wait = retry_wait_s(delay * self.scheduler.time_scale, result,
                                  timeout_s=inv.timeout_s)
        inv.waited(aws_s=delay, local_s=local_wait)
        self.scheduler.later(local_wait / self.scheduler.time_scale,
                             self._attempt_work(inv), on_pool=True)

    def _record(self, inv: Invocation, code: str, message: str) -> None:
        if inv.delivery is not None:
            self.report.record(inv.delivery, code, message)
        else:
            log.info("invocation %s of %s: %s %s", inv.request_id, inv.function_arn, code,
                     message)

    def _gave_up(self, inv: Invocation, condition: str, result: InvocationResult) -> None:
        self._record(inv, f"lambda {condition}", json.dumps(result.payload))
        if inv.config.on_failure:
            self._destination(inv, inv.config.on_failure, condition, result)
        else:
            self.report.count("dropped")

    def _destination(self, inv: Invocation, destination: str, condition: str,
                     result: InvocationResult) -> None:
        """Send the invocation record to an SQS destination (other kinds: not locally)."""
        record = invocation_record(request_id=inv.request_id, function_arn=inv.function_arn,
                                   condition=condition, invoke_count=inv.attempts,
                                   event=inv.event, result=result)
        try:
            arn = arns.parse(destination)
            if arn.service != "sqs":
                raise DeliveryFailure(INVALID_PARAMETER, f"destination type {arn.service} "
                                      "is not supported by the local cloud")
            self.queues.send(arn, json.dumps(record))
            if condition != "Success":
                self.report.count("dead_lettered")
                self.notices.add(notice.dead_letter_line(
                    _event_id(inv), _detail_type(inv), destination, condition,
                    _error_of(result)))
        except Exception as exc:  # refused or crashed: counted and logged, never silent
            self.report.count("dropped")
            self._record(inv, "destination failed", f"{type(exc).__name__}: {exc}")


def _event_id(inv: Invocation) -> str:
    return str(inv.event.get("id", inv.request_id)) if isinstance(inv.event, dict) \
        else inv.request_id


def _detail_type(inv: Invocation) -> str:
    return str(inv.event.get("detail-type", "invocation")) if isinstance(inv.event, dict) \
        else "invocation"


def _error_of(result: InvocationResult) -> str:
    """``errorType: errorMessage`` of a function error's payload."""
    payload = result.payload
    if isinstance(payload, dict):
        return f"{payload.get('errorType', '?')}: {payload.get('errorMessage', '')}"
    return str(payload)[:200]
