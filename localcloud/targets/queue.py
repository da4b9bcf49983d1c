"""SQS queue targets: the queue policy must let EventBridge send for the rule (EventBridge
User Guide, "Amazon SQS permissions"); FIFO queues take ``SqsParameters.MessageGroupId``.
"""

from __future__ import annotations

from localcloud.arns import Arn
from localcloud.delivery import Delivery, payload
from localcloud.queues import QueueSender
from localcloud.targets.base import TargetKind


class QueueTarget(TargetKind):
    """Sends the event JSON (or the target's Input / InputPath) as one message."""

    name = "SQS queue"

    def __init__(self, queues: QueueSender) -> None:
        self.queues = queues

    def accepts(self, arn: Arn) -> bool:
        return arn.service == "sqs"

    def deliver(self, delivery: Delivery, arn: Arn) -> bool:
        group = (delivery.target.get("SqsParameters") or {}).get("MessageGroupId")
        self.queues.send_as_eventbridge(arn, payload(delivery), rule_arn=delivery.rule_arn,
                                        rule_account=delivery.rule_account, group_id=group)
        return True
