"""Sending SQS messages for the data plane: as EventBridge (SQS targets, dead-letter
queues: the queue policy must allow it) or as Lambda does for a destination.

>>> from localcloud import arns
>>> from localcloud.moto_state import MotoState
>>> gone = arns.parse("arn:aws:sqs:eu-west-1:999999999999:gone")
>>> try:
...     QueueSender(MotoState()).send(gone, "{}")
... except DeliveryFailure as failure:
...     print(failure.code, "/", failure.message)
NO_RESOURCE / queue arn:aws:sqs:eu-west-1:999999999999:gone does not exist
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from localcloud.arns import Arn
from localcloud.cache import BoundedCache
from localcloud.delivery import NO_PERMISSIONS, NO_RESOURCE, DeliveryFailure
from localcloud.permissions import EVENTS_PRINCIPAL, service_allowed
from localcloud.state import CloudState, Queue


class QueueSender:
    """Sends messages through the control plane, checking queue policies for EventBridge."""

    def __init__(self, state: CloudState, cache_size: int = 4096) -> None:
        self.state = state
        self._decisions = BoundedCache(cache_size)

    def queue(self, target: Arn) -> Queue:
        queue = self.state.queue(target)
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
        policy = self.queue(target).policy
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
        dedup = str(uuid.uuid4()) if queue.name.endswith(".fifo") else None
        self.state.send_message(target, body, attributes=dict(attributes or {}),
                                group_id=group_id, deduplication_id=dedup)

