"""Change state once, publish once, under at-least-once delivery: :func:`claim`.

EventBridge retries a target and Lambda's asynchronous queue may hand a handler the same
event twice, even at the same time ("it's possible for it to receive the same event from
Lambda multiple times because the queue itself is eventually consistent": Lambda
Developer Guide, "How Lambda handles errors and retries with asynchronous invocation").
A handler keeps its state on one item of the service table, and :func:`claim` makes the
protocol below the only way to touch it:

1. **The claim is the state change.** One conditional write both changes the state
   (creates the item, or updates it if a condition holds) and takes a *lease* on it
   (``leaseOwner``/``leaseUntil``), with a "published" flag set to false. Nothing can
   come between the change and the lease: they are the same write.
2. **A retry resumes.** If the state was already changed but the flag is still false
   (an earlier attempt failed or died), the claim takes the lease over, provided no live
   lease is on the item, and the handler finishes from the *stored* values, so the work
   is not redone and the event published is the same.
3. **A duplicate of finished work does nothing:** the flag is set, ``claim`` returns None.
4. **A concurrent duplicate waits:** while another invocation holds a live lease,
   ``claim`` raises :class:`DuplicateInProgress`; the handler fails, and Lambda's
   asynchronous retries deliver the event again later, when the owner has published or
   released the lease.
5. **"Published" is marked only after publishing.** The handler's steps run in
   ``with held:``; leaving the block sets the flag and drops the lease in one conditional
   write. If the block raises, the lease is dropped (so the retry need not wait) and the
   error goes on to Lambda, which retries.
6. **A dead owner** (timeout, out of memory) never releases: its lease lasts the
   invocation's remaining time plus a margin, so a live owner never loses it, and after
   that a retry takes over (step 2).

A crash after ``PutEvents`` succeeded but before the flag was set means the retry
publishes the same event again: consumers are idempotent too (they key on the data's
ids). Powertools' Idempotency utility works the same way (an INPROGRESS record that
expires with the invocation); here the lease lives on the service's own state item, so
the state change and the claim are one write.

>>> table = Table()          # the service's table (TABLE_NAME), as `create` makes it
>>> key = ("DELIVERY#o-1", "DELIVERY")
>>> held = claim(table, key, create={"deliveryId": "d-1"}, flag="published")
>>> if held is not None:                 # None: a duplicate of finished work
...     with held:                       # the business steps; leaving marks it published
...         print("deliver", held.item["deliveryId"], "and publish Delivery.Updated")
deliver d-1 and publish Delivery.Updated
>>> claim(table, key, create={"deliveryId": "d-2"}, flag="published") is None  # duplicate
True
>>> table.get(*key)["published"], table.get(*key)["deliveryId"]
(True, 'd-1')
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from backbone import observability
from backbone.errors import BackboneServiceError
from backbone.store import PK, SK, Table

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
class Condition:
    """A DynamoDB condition expression: ``#name`` for an attribute, ``:name`` for a value.

    >>> Condition("#status = :created", {"created": "CREATED"}).values
    {'created': 'CREATED'}
    """

    expression: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Lease:
    """This invocation's claim on a state item: a unique owner and an expiry (epoch ms).

    >>> lease = Lease.for_invocation(context=None, at_ms=1_000)
    >>> lease.until_ms == 1_000 + MAX_LAMBDA_RUNTIME_MS + LEASE_MARGIN_MS
    True
    >>> sorted(lease.attributes())
    ['leaseOwner', 'leaseUntil']
    """

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


class Claim:
    """The state item this invocation holds the lease on, from :func:`claim`.

    Run the handler's steps in ``with held:``: leaving the block marks the item
    published and drops the lease; an error drops the lease and goes on.
    """

    def __init__(self, table: Table, key: tuple[str, str], lease: Lease, flag: str,
                 item: dict[str, Any], *, resumed: bool) -> None:
        self.table = table
        self.key = key
        self.lease = lease
        self.flag = flag
        #: The item as this invocation last wrote or read it.
        self.item = item
        #: True when an earlier attempt made the state change and this one finishes it.
        self.resumed = resumed

    def update(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """SET attributes while the lease is still ours; the new item. Raises LeaseLost."""
        item = self.table.update_if(*self.key, set_values=values,
                                    condition=f"#{LEASE_OWNER} = :lease_owner",
                                    condition_values={"lease_owner": self.lease.owner})
        if item is None:
            raise LeaseLost(f"{self.key[0]}: the lease expired and another invocation took "
                            "over")
        self.item = item
        return item

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if exc_type is not None:
            try:
                release(self.table, *self.key, self.lease)
            except Exception:  # the lease then expires on its own; keep the original error
                observability.logger().exception("lease not released",
                                                 extra={"pk": self.key[0]})
            return
        item = self.table.update_if(*self.key, set_values={self.flag: True},
                                    remove=(LEASE_OWNER, LEASE_UNTIL),
                                    condition=f"#{LEASE_OWNER} = :lease_owner",
                                    condition_values={"lease_owner": self.lease.owner})
        if item is None:
            raise LeaseLost(f"{self.key[0]}: published, but the lease was taken over before "
                            f"{self.flag} was set; the new owner publishes the same event "
                            "again")
        self.item = item


def claim(table: Table, key: tuple[str, str], *, flag: str,
          create: Mapping[str, Any] | None = None,
          change: Mapping[str, Any] | None = None, when: Condition | None = None,
          resume_if: Condition | None = None,
          refuse: Callable[[dict[str, Any] | None], None] | None = None,
          context: Any = None) -> Claim | None:
    """Take the state item ``key`` for this invocation, or learn that it is not ours.

    The state change is either ``create`` (the item's attributes: put unless the key
    exists) or ``change`` (attributes to SET if ``when`` holds). Either way the same
    write sets ``flag`` to false and takes the lease. If that write finds nothing to do,
    the claim resumes an unfinished change (``flag`` false, no live lease, and
    ``resume_if`` if given). Otherwise ``refuse`` sees the current item (None if there
    is none) and may raise a domain error; then a published item means a duplicate
    (None is returned) and anything else another invocation at work
    (:class:`DuplicateInProgress`). ``context`` is the Lambda context (the lease lasts
    its remaining time).
    """
    if (create is None) == (change is None) or (change is None) != (when is None):
        raise ValueError("claim takes create=, or change= with when=")
    lease = Lease.for_invocation(context)
    fresh = {flag: False, **lease.attributes()}
    item: dict[str, Any] | None = None
    if create is not None:
        candidate = {PK: key[0], SK: key[1], **create, **fresh}
        item = candidate if table.put_new(candidate) else None
    elif change is not None and when is not None:
        item = table.update_if(*key, set_values={**change, **fresh}, condition=when.expression,
                               condition_values=when.values)
    if item is not None:
        return Claim(table, key, lease, flag, item, resumed=False)

    resume = f"#{flag} = :claim_unpublished AND (attribute_not_exists(#{LEASE_UNTIL}) " \
             f"OR #{LEASE_UNTIL} < :claim_now)"
    values: dict[str, Any] = {"claim_unpublished": False, "claim_now": now_ms()}
    if resume_if is not None:
        resume = f"({resume_if.expression}) AND {resume}"
        values.update(resume_if.values)
    item = table.update_if(*key, set_values=lease.attributes(), condition=resume,
                           condition_values=values)
    if item is not None:
        return Claim(table, key, lease, flag, item, resumed=True)

    current = table.get(*key)
    if refuse is not None:
        refuse(current)
    if current is not None and current.get(flag) is True:
        return None
    raise DuplicateInProgress(f"{key[0]}: another invocation is working on it; retry "
                              "later (Lambda retries the event)")


def release(table: Table, pk: str, sk: str, lease: Lease) -> None:
    """Drop the lease if it is still ours."""
    table.update_if(pk, sk, remove=(LEASE_OWNER, LEASE_UNTIL),
                    condition=f"#{LEASE_OWNER} = :lease_owner",
                    condition_values={"lease_owner": lease.owner})
