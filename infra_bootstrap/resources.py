"""The resource model: desired and actual resources as plain frozen data.

Like Chalice's ``deploy/models.py``: no I/O here. ``desired.py`` builds these from the
topology, ``reader.py`` builds them from what AWS reports, ``planner.py`` diffs the two.

A resource is identified by ``(kind, account, name)``; ``props`` holds the properties we
manage (JSON-like values; policies as parsed dicts) and ``tags`` the tags, or ``None``
for resources whose API takes no tags. What the reader reports also carries what
ownership (``ownership.py``) and ``destroy`` need: ``parent_tags``, the tags of the
resource an untaggable one belongs to (an archive's bus, a Lambda permission's
function), and ``data``, what the resource holds (read for ``destroy`` only).

>>> bus = Resource(EVENT_BUS, "111111111111", "global-bus", {"policy": None}, {"k": "v"})
>>> bus.key, bus.label
(('event_bus', '111111111111', 'global-bus'), 'event bus global-bus')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

IAM_ROLE = "iam_role"
SQS_QUEUE = "sqs_queue"
LOG_GROUP = "log_group"
LOGS_RESOURCE_POLICY = "logs_resource_policy"
DYNAMODB_TABLE = "dynamodb_table"
EVENT_BUS = "event_bus"
ARCHIVE = "archive"
RULE = "rule"
SUBSCRIPTION_RULE = "subscription_rule"
LAMBDA_PERMISSION = "lambda_permission"
INVOKE_CONFIG = "invoke_config"
# CloudWatch metric alarms: on the dead-letter queues and the rules `create` makes, and
# on the subscription rules `subscribe` makes (two kinds, as for rules, so that each
# command only manages its own).
ALARM = "alarm"
SUBSCRIPTION_ALARM = "subscription_alarm"

# Creation order; deletions run in the reverse order. Every reference points to an
# earlier phase: roles and queues before the targets naming them, buses before their
# rules and archive, log groups before log targets, rules before the Lambda permission
# naming their ARN, queues and rules before the alarms watching them.
PHASES: tuple[str, ...] = (
    IAM_ROLE, SQS_QUEUE, LOG_GROUP, LOGS_RESOURCE_POLICY, DYNAMODB_TABLE, EVENT_BUS,
    ARCHIVE, RULE, ALARM, SUBSCRIPTION_RULE, LAMBDA_PERMISSION, INVOKE_CONFIG,
    SUBSCRIPTION_ALARM,
)
# What `create` / `verify` manage, what `subscribe` manages, and what `destroy` sweeps.
INFRA_KINDS = frozenset({IAM_ROLE, SQS_QUEUE, LOG_GROUP, LOGS_RESOURCE_POLICY, DYNAMODB_TABLE,
                         EVENT_BUS, ARCHIVE, RULE, ALARM})
SUBSCRIPTION_KINDS = frozenset({SUBSCRIPTION_RULE, LAMBDA_PERMISSION, INVOKE_CONFIG,
                                SUBSCRIPTION_ALARM})
DESTROY_KINDS = INFRA_KINDS | {SUBSCRIPTION_RULE, SUBSCRIPTION_ALARM}

_LABELS = {
    IAM_ROLE: "IAM role", SQS_QUEUE: "SQS queue", LOG_GROUP: "log group",
    LOGS_RESOURCE_POLICY: "Logs resource policy", DYNAMODB_TABLE: "DynamoDB table",
    EVENT_BUS: "event bus", ARCHIVE: "archive", RULE: "rule",
    SUBSCRIPTION_RULE: "subscription rule", LAMBDA_PERMISSION: "Lambda permission",
    INVOKE_CONFIG: "event invoke config", ALARM: "alarm", SUBSCRIPTION_ALARM: "alarm",
}


@dataclass(frozen=True)
class Data:
    """What a resource holds that deleting it would lose.

    >>> str(Data(3, "message")), str(Data(1, "item", at_least=True)), Data(0, "event").holds
    ('3 messages', 'at least 1 item', False)
    """

    count: int
    unit: str
    at_least: bool = False

    @property
    def holds(self) -> bool:
        return self.count > 0

    def __str__(self) -> str:
        plural = "" if self.count == 1 else "s"
        return f"{'at least ' if self.at_least else ''}{self.count} {self.unit}{plural}"


@dataclass(frozen=True)
class Resource:
    """One resource, desired or actual.

    Rules are named ``<bus>/<rule>`` (rule names are unique per bus), Lambda permissions
    ``<function>/<statement id>``; every other kind by its own AWS name.
    """

    kind: str
    account: str
    name: str
    props: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] | None = None
    parent_tags: Mapping[str, str] | None = None
    data: Data | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.account, self.name)

    @property
    def label(self) -> str:
        return f"{_LABELS[self.kind]} {self.name}"

    @property
    def ref(self) -> str:
        """How a person names it on the command line (``create --adopt``): ``kind/name``.

        >>> Resource(EVENT_BUS, "111111111111", "global-bus").ref
        'event_bus/global-bus'
        """
        return f"{self.kind}/{self.name}"


def rule_name(bus: str, rule: str) -> str:
    """The ``name`` of a rule resource.

    >>> rule_name("global-bus", "log-all-events")
    'global-bus/log-all-events'
    """
    return f"{bus}/{rule}"


def split_rule_name(name: str) -> tuple[str, str]:
    bus, _, rule = name.partition("/")
    return bus, rule
