"""Change state once, publish once, under at-least-once delivery: a lease on the state item.

EventBridge and Lambda's async invoke may hand a handler the same event twice, even at
the same time. A handler records its state change and a "published" flag on one item
of the service table, and holds a *lease* on that item (``leaseOwner``/``leaseUntil``)
from the state change until the flag is set:

- the first invocation takes the lease with the conditional write that changes the
  state; a duplicate that finds the flag set does nothing;
- a duplicate that finds a live lease raises :class:`DuplicateInProgress`, so Lambda
  retries it later (by then the owner has published, or failed and released the lease);
- an owner that fails releases the lease and re-raises (Lambda retries; the retry takes
  the lease and publishes the *stored* values, so the event is the same);
- an owner that dies without releasing (timeout, out of memory) holds the lease only
  until it expires: it lasts the invocation's remaining time, so a live owner never
  loses it, and after that a retry takes over.

A crash after ``PutEvents`` succeeded but before the flag was set means the retry
publishes the same event again: consumers are idempotent (they key on the data's ids).
Powertools' Idempotency utility works the same way (an INPROGRESS record that expires
with the invocation); this module keeps the lease on the service's own state item, so
the state change and the claim are one conditional write.

>>> lease = Lease.for_invocation(context=None, at_ms=1_000)
>>> lease.until_ms == 1_000 + MAX_LAMBDA_RUNTIME_MS + LEASE_MARGIN_MS
True
>>> sorted(lease.attributes())
['leaseOwner', 'leaseUntil']
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from backbone import observability
from backbone.errors import BackboneServiceError
from backbone.store import Table

LEASE_OWNER = "leaseOwner"
LEASE_UNTIL = "leaseUntil"
# Without a Lambda context the lease lasts Lambda's maximum timeout (900 s, Lambda
# Developer Guide "Lambda quotas"): no invocation can still be running after that.
MAX_LAMBDA_RUNTIME_MS = 900_000
LEASE_MARGIN_MS = 1_000


class DuplicateInProgress(BackboneServiceError):
    """Another invocation holds the lease on this item: retry later (Lambda will)."""


class LeaseLost(BackboneServiceError):
    """The lease expired and another invocation took the item over: stop here."""


def now_ms() -> int:
    """Now in epoch milliseconds (the unit of ``leaseUntil``)."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Lease:
    """This invocation's claim on a state item: a unique owner and an expiry (epoch ms)."""

    owner: str
    until_ms: int

    @classmethod
    def for_invocation(cls, context: Any = None, at_ms: int | None = None) -> Lease:
        """A new lease lasting the invocation's remaining time (Lambda context) + margin."""
        start = now_ms() if at_ms is None else at_ms
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        runtime = int(remaining()) if callable(remaining) else MAX_LAMBDA_RUNTIME_MS
        return cls(owner=str(uuid.uuid4()), until_ms=start + runtime + LEASE_MARGIN_MS)

    def attributes(self) -> dict[str, Any]:
        """The item attributes that record this lease (for a put or an update)."""
        return {LEASE_OWNER: self.owner, LEASE_UNTIL: self.until_ms}


def take_over(table: Table, pk: str, sk: str, lease: Lease, *, condition: str,
              condition_values: Mapping[str, Any] | None = None,
              at_ms: int | None = None) -> dict[str, Any] | None:
    """Take the lease on an existing item if ``condition`` holds and no live lease is on it.

    Returns the item, or None (condition false, or another invocation's lease is live).
    """
    values = {**(condition_values or {}), "lease_now": now_ms() if at_ms is None else at_ms}
    return table.update_if(
        pk, sk, set_values=lease.attributes(), condition_values=values,
        condition=(f"({condition}) AND (attribute_not_exists(#{LEASE_UNTIL}) "
                   f"OR #{LEASE_UNTIL} < :lease_now)"))


def update_under_lease(table: Table, pk: str, sk: str, lease: Lease,
                       set_values: Mapping[str, Any]) -> dict[str, Any]:
    """SET attributes while the lease is still ours; the new item. Raises LeaseLost."""
    item = table.update_if(pk, sk, set_values=set_values,
                           condition=f"#{LEASE_OWNER} = :owner",
                           condition_values={"owner": lease.owner})
    if item is None:
        raise LeaseLost(f"{pk}: the lease expired and another invocation took over")
    return item


@contextmanager
def released_on_error(table: Table, pk: str, sk: str, lease: Lease) -> Iterator[None]:
    """Drop the lease if the block raises (then re-raise), so a retry need not wait.

    >>> with released_on_error(table, pk, sk, lease):    # doctest: +SKIP
    ...     do_the_work()
    """
    try:
        yield
    except BaseException:
        try:
            release(table, pk, sk, lease)
        except Exception:  # the lease then expires on its own; keep the original error
            observability.logger().exception("lease not released", extra={"pk": pk})
        raise


def publish_under_lease(table: Table, pk: str, sk: str, lease: Lease, *, flag: str,
                        publish: Callable[[], Any]) -> None:
    """Publish, then set ``flag`` and drop the lease; on failure drop the lease and re-raise.

    >>> publish_under_lease(table, pk, sk, lease, flag="published",
    ...                     publish=lambda: publisher.publish(event))  # doctest: +SKIP
    """
    with released_on_error(table, pk, sk, lease):
        publish()
    if table.update_if(pk, sk, set_values={flag: True}, remove=(LEASE_OWNER, LEASE_UNTIL),
                       condition=f"#{LEASE_OWNER} = :owner",
                       condition_values={"owner": lease.owner}) is None:
        raise LeaseLost(f"{pk}: published, but the lease was taken over before {flag} was "
                        "set; the new owner publishes the same event again")


def release(table: Table, pk: str, sk: str, lease: Lease) -> None:
    """Drop the lease if it is still ours."""
    table.update_if(pk, sk, remove=(LEASE_OWNER, LEASE_UNTIL),
                    condition=f"#{LEASE_OWNER} = :owner",
                    condition_values={"owner": lease.owner})
