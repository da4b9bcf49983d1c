"""The local EventBridge data plane: PutEvents in, matched rules, deliveries out.

The router orchestrates; each job is its own module: admission (validation, caller, bus,
bus policies), matching (rules and patterns), scheduling (routing thread, pool, timers),
the target kinds (bus, log group, SQS, Lambda, archive), Lambda's asynchronous
invocation, and RetryPolicy / dead-letter queues. The control plane is read through a
:class:`~localcloud.state.CloudState` (moto's backends by default), and Lambda functions
are run through a :class:`~localcloud.functions.FunctionInvoker` (worker processes by
default). docs/local-cloud.md lists every rule followed, with its AWS source.

>>> router = Router()
>>> answer = router.put_events(Caller("222222222222", "eu-west-1"), [
...     {"Source": "order-service", "DetailType": "Order.Created", "Detail": "{}"}])
>>> answer["FailedEntryCount"], router.wait_idle(5), router.stats["routed"]
(0, True, 1)
>>> router.stop()
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from localcloud import arns, replays
from localcloud import notices as lines
from localcloud.admission import Admission, BusRef, Caller
from localcloud.cache import BoundedCache
from localcloud.chaos import Chaos
from localcloud.config import RouterConfig
from localcloud.delivery import (
    CONNECTION_FAILURE,
    INTERNAL_ERROR,
    INVALID_PARAMETER,
    Delivery,
    DeliveryFailure,
)
from localcloud.envelope import RoutedEvent
from localcloud.functions import NO_FUNCTIONS, FunctionInvoker
from localcloud.lambda_async import AsyncInvocations
from localcloud.matching import RuleMatcher
from localcloud.moto_state import MotoState
from localcloud.notices import Notices
from localcloud.pending import PendingWork, from_snapshot, shift
from localcloud.queues import QueueSender
from localcloud.replays import ReplayJob
from localcloud.retries import DeadLetters, Exhausted, RetryIn, next_attempt
from localcloud.scheduling import Scheduler, Tagged
from localcloud.state import CloudState
from localcloud.targets.archive import ArchiveTarget
from localcloud.targets.base import TargetKind
from localcloud.targets.bus import EventBusTarget
from localcloud.targets.function import FunctionTarget
from localcloud.targets.log_group import LogGroupTarget
from localcloud.targets.queue import QueueTarget

__all__ = ["Caller", "Router", "RouterConfig"]

log = logging.getLogger(__name__)

STATS = ("accepted", "failed_entries", "routed", "delivered", "retried", "dead_lettered",
         "dropped", "lambda_errors", "unknown_bus",
         "chaos_duplicates", "chaos_delays", "chaos_failures")
# The message of a transient failure injected by --chaos.
CHAOS_FAILURE = "transient failure injected by --chaos (localcloud.chaos); retried"


class Router:
    """Routes events between buses: asynchronous, at-least-once, one bus->bus hop.

    ``put_events`` validates and admits entries, then queues them and returns: no target
    runs before it returns (EventBridge delivers asynchronously). One routing thread
    matches rules and writes in-memory targets (buses, log groups, SQS); Lambda
    invocations run on a thread pool, so a slow function never blocks routing.
    """

    def __init__(self, config: RouterConfig | None = None, *, state: CloudState | None = None,
                 invoker: FunctionInvoker | None = None) -> None:
        self.config = config = config or RouterConfig()
        self.state: CloudState = state or MotoState(config.cache_size)
        self.invoker: FunctionInvoker = invoker or NO_FUNCTIONS
        self.stats: dict[str, int] = dict.fromkeys(STATS, 0)
        self.failures: deque[dict[str, Any]] = deque(maxlen=config.max_recorded_failures)
        self._stats_lock = threading.Lock()
        # One line per failure, retry, dead letter and denied entry, for a console.
        self.notices = Notices()
        # --chaos: at-least-once delivery on demand (None: each event delivered once).
        self.chaos = Chaos(config.chaos) if config.chaos is not None else None
        # Bounded memos: keys hold caller-chosen sources, detail types and policy texts.
        decisions = BoundedCache(config.cache_size)
        self.scheduler = Scheduler(time_scale=config.time_scale,
                                   pool_size=config.lambda_concurrency)
        self.admission = Admission(self.state, decisions)
        self.matcher = RuleMatcher(config.cache_size)
        queues = QueueSender(self.state, config.cache_size)
        self.dead_letters = DeadLetters(queues)
        self.invocations = invocations = AsyncInvocations(self.scheduler, self.invoker, queues,
                                                          report=self, notices=self.notices)
        self.targets: tuple[TargetKind, ...] = (
            EventBusTarget(self.state, self.admission, decisions, forward=self._forward),
            LogGroupTarget(self.state, config.cache_size),
            QueueTarget(queues),
            FunctionTarget(self.state, self.invoker, invocations, decisions),
            ArchiveTarget(self.state),
        )

    # -- public API -------------------------------------------------------------------

    def put_events(self, caller: Caller, entries: Any) -> dict[str, Any]:
        """PutEvents semantics; returns the response body (Entries, FailedEntryCount)."""
        results, accepted = self.admission.admit(
            caller, entries, room=self.config.max_pending - self.scheduler.pending)
        failed = len(results) - len(accepted)
        if failed:
            self._notice_denied(caller, entries, results)
        self.count("accepted", len(accepted))
        self.count("failed_entries", failed)
        for bus, event in accepted:
            self._forward(bus, event)
        return {"FailedEntryCount": failed, "Entries": results}

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no event is queued, being delivered or waiting for a retry."""
        return self.scheduler.wait_idle(timeout)

    @property
    def pending(self) -> int:
        return self.scheduler.pending

    def stop(self) -> None:
        self.scheduler.stop()

    def pending_work(self) -> tuple[list[PendingWork], int]:
        """Once stopped: the work not done that a state file can keep, and how many
        pieces it cannot (``localcloud.pending``)."""
        return from_snapshot(self.scheduler.snapshot())

    def resume(self, pending: list[PendingWork], *, clock_shift_s: float) -> None:
        """Run again the work a stopped local cloud kept, each when it is due."""
        for work in pending:
            shift(work, clock_shift_s)
            if work.kind == "route":
                bus, event = work.item
                self._forward(bus, event)
            elif work.kind == "deliver":
                self._retry_later(work.item, work.delay_s / self.scheduler.time_scale)
            elif work.kind == "invoke":
                self.invocations.resume(work.item, work.delay_s)

    # -- routing ------------------------------------------------------------------------

    def _forward(self, bus: BusRef, event: RoutedEvent) -> None:
        """Route ``event`` on ``bus``, on the routing thread, after what is queued."""
        self.scheduler.enqueue(Tagged("route", (bus, event), lambda: self._route(bus, event)),
                               lane=bus.account)

    def _route(self, bus: BusRef, event: RoutedEvent, *, only: frozenset[str] = frozenset(),
               replay: bool = False) -> None:
        """Match the event against the bus's enabled rules and deliver to their targets;
        a replay goes only to the rules in ``only`` (all if empty), never to an archive.

        Nothing accepted is lost silently: an event whose bus is gone by now, or whose
        rules cannot be read, is a counted and logged drop."""
        try:
            if not self.state.bus_exists(bus):
                self.drop(event, "unknown_bus", f"event bus {bus.arn} does not exist")
                return
            self.count("routed")
            matched = self.matcher.matching(self.state.rules(bus), event.envelope)
        except Exception as exc:
            log.exception("routing of %s on %s crashed", event.id, bus.arn)
            self.drop(event, "dropped", f"routing failed: {type(exc).__name__}: {exc}")
            return
        for rule in matched:
            if only and rule.arn not in only:
                continue
            for target in rule.targets:
                if replay and self.state.archive_of(target) is not None:
                    continue
                self._deliver(Delivery(event, rule.arn, rule.account, target))

    def replay(self, job: ReplayJob, done: Callable[[], None]) -> None:
        """Run a replay (``localcloud.replays``): each archived event of the window, with
        ``replay-name``, routed on the destination bus after what is queued; ``done`` runs
        once every one of them was routed."""
        arn = arns.parse(job.bus_arn)
        bus = BusRef(arn.account, arn.region, arn.resource.split("/", 1)[-1])
        for envelope in job.events:
            replayed, raw = replays.replayed(envelope, job.name)
            self.scheduler.enqueue(self._replay_route(bus, RoutedEvent(replayed, raw),
                                                      job.filter_arns), lane=bus.account)
        self.scheduler.enqueue(done, lane=bus.account)

    def _replay_route(self, bus: BusRef, event: RoutedEvent,
                      only: frozenset[str]) -> Callable[[], None]:
        return lambda: self._route(bus, event, only=only, replay=True)

    def _deliver(self, delivery: Delivery) -> None:
        if self.chaos is not None and not delivery.chaos_decided:
            self._first_attempt_with_chaos(delivery)
            return
        try:
            self._chaos_failure(delivery)
            arn = arns.parse(delivery.target_arn)
            kind = next((k for k in self.targets if k.accepts(arn)), None)
            if kind is None:
                raise DeliveryFailure(INVALID_PARAMETER, f"target type {arn.service} is "
                                      "not supported by the local cloud")
            delivered_now = kind.deliver(delivery, arn)
        except DeliveryFailure as failure:
            self.failed(delivery, failure)
            return
        except ValueError as exc:
            self.failed(delivery, DeliveryFailure(INVALID_PARAMETER, str(exc)))
            return
        except Exception as exc:
            # Not a target error but ours (e.g. a moto model changed shape): this target
            # fails with AWS's INTERNAL_ERROR code (rule-dlq.html), the others still run.
            log.exception("delivery of %s to %s crashed", delivery.event.id,
                          delivery.target_arn)
            self.failed(delivery, DeliveryFailure(
                INTERNAL_ERROR, f"local data plane error: {type(exc).__name__}: {exc}"))
            return
        if delivered_now:
            self.delivered(delivery)

    # -- --chaos: at-least-once on demand (localcloud.chaos decides, this applies) ----------

    def _first_attempt_with_chaos(self, delivery: Delivery) -> None:
        """Delay the first attempt by chaos's delay, and deliver the same event (same id)
        once more, with its own delay, if chaos says so."""
        assert self.chaos is not None
        decided = self.chaos.first_attempt()
        delivery.chaos_decided = True
        copies = [(delivery, decided.delay_s)]
        if decided.duplicate:
            self.count("chaos_duplicates")
            copies.append((Delivery(delivery.event, delivery.rule_arn, delivery.rule_account,
                                    delivery.target, chaos_decided=True),
                           decided.duplicate_delay_s))
        for copy, delay_s in copies:
            if delay_s > 0:
                self.count("chaos_delays")
                # later() takes AWS seconds; chaos's delays are real ones.
                self.scheduler.later(delay_s / self.scheduler.time_scale,
                                     Tagged("deliver", copy,
                                            functools.partial(self._deliver, copy)),
                                     on_pool=False)
            else:
                self._deliver(copy)

    def _chaos_failure(self, delivery: Delivery) -> None:
        """Fail this attempt transiently if chaos says so, unless the target's RetryPolicy
        allows no further attempt: chaos alone never dead-letters an event."""
        if self.chaos is None or isinstance(self._plan(delivery, retriable=True), Exhausted):
            return
        if self.chaos.fails():
            self.count("chaos_failures")
            raise DeliveryFailure(CONNECTION_FAILURE, CHAOS_FAILURE, retriable=True)

    # -- outcomes (the DeliveryReport of the target kinds) ----------------------------------

    def delivered(self, delivery: Delivery) -> None:
        self.count("delivered")

    def failed(self, delivery: Delivery, failure: DeliveryFailure) -> None:
        """Retry per the target's RetryPolicy, then its DeadLetterConfig, else drop; a
        crash on the way is a counted and logged drop, never a silent loss."""
        try:
            self._retry_or_dead_letter(delivery, failure)
        except Exception as exc:
            log.exception("failure handling of %s to %s crashed", delivery.event.id,
                          delivery.target_arn)
            self.count("dropped")
            self.record(delivery, failure.code,
                        f"{failure.message}; then {type(exc).__name__}: {exc}")

    def _plan(self, delivery: Delivery, *, retriable: bool) -> RetryIn | Exhausted:
        """What would follow if this attempt of ``delivery`` failed (its RetryPolicy)."""
        return next_attempt(delivery.target.get("RetryPolicy"), retries=delivery.retries,
                            age_s=self.scheduler.age(delivery.started), retriable=retriable,
                            backoff_base_s=self.config.eb_backoff_base_s,
                            backoff_cap_s=self.config.eb_backoff_cap_s)

    def _retry_or_dead_letter(self, delivery: Delivery, failure: DeliveryFailure) -> None:
        plan = self._plan(delivery, retriable=failure.retriable)
        event, target = delivery.event, delivery.target.get("Arn")
        self.notices.add(lines.failed_line(event.id, _detail_type(event), target, failure.code,
                                           failure.message))
        if isinstance(plan, RetryIn):
            delivery.retries += 1
            self.notices.add(lines.retry_line(event.id, _detail_type(event), target,
                                              delivery.retries))
            self.count("retried")
            self._retry_later(delivery, plan.delay_s)
            return
        self.record(delivery, failure.code, failure.message)
        try:
            sent = self.dead_letters.send(delivery, failure, plan.condition)
        except Exception as exc:  # the DLQ refused or crashed: the event is dropped, said so
            self.count("dropped")
            self.record(delivery, "DLQ failed", f"{type(exc).__name__}: {exc}")
            self.notices.add(lines.dropped_line(event.id, _detail_type(event), target,
                                                f"its dead-letter queue failed: {exc}"))
            return
        self.count("dead_lettered" if sent else "dropped")
        dlq = (delivery.target.get("DeadLetterConfig") or {}).get("Arn")
        self.notices.add(
            lines.dead_letter_line(event.id, _detail_type(event), dlq, failure.code,
                                   failure.message) if sent else
            lines.dropped_line(event.id, _detail_type(event), target, "no dead-letter queue"))

    def _retry_later(self, delivery: Delivery, delay_aws_s: float) -> None:
        self.scheduler.later(delay_aws_s, Tagged("deliver", delivery,
                                                 lambda: self._deliver(delivery)),
                             on_pool=False)

    def _notice_denied(self, caller: Caller, entries: Any, results: list[Any]) -> None:
        for entry, result in zip(entries if isinstance(entries, list) else [], results,
                                 strict=False):
            if isinstance(entry, dict) and isinstance(result, dict) and result.get("ErrorCode"):
                self.notices.add(lines.denied_line(
                    str(entry.get("EventBusName") or "default").rsplit("/", 1)[-1],
                    str(entry.get("Source", "?")), str(entry.get("DetailType", "?")),
                    str(result["ErrorCode"]), str(result.get("ErrorMessage", ""))))

    def count(self, stat: str, amount: int = 1) -> None:
        """Add to a statistic; request, routing and Lambda threads all count."""
        with self._stats_lock:
            self.stats[stat] += amount

    def drop(self, event: RoutedEvent, stat: str, message: str) -> None:
        """Count, log and notice (one console line) an event dropped before any delivery
        (``/_local/stats``)."""
        self.count(stat)
        self.failures.append({"eventId": event.id, "ruleArn": None, "targetArn": None,
                              "code": stat, "message": message})
        self.notices.add(lines.dropped_line(event.id, _detail_type(event), None,
                                            f"{stat}: {message}"))
        log.warning("event %s dropped: %s", event.id, message)

    def record(self, delivery: Delivery, code: str, message: str) -> None:
        self.failures.append({"eventId": delivery.event.id, "ruleArn": delivery.rule_arn,
                              "targetArn": delivery.target.get("Arn"),
                              "code": code, "message": message})
        log.info("delivery of %s to %s failed: %s %s", delivery.event.id,
                 delivery.target.get("Arn"), code, message)


def _detail_type(event: RoutedEvent) -> str:
    """The event's detail-type, for a notice line."""
    return str(event.envelope.get("detail-type", "?"))
