"""Event bus targets: one bus->bus hop, through a role or as the rule's account.

"If a receiver account sets up a rule that sends events received from a sender account
on to a third account, these events are not sent to the third account" (EventBridge User
Guide, "Sending and receiving events between AWS accounts"). A cross-account target bus
must admit the sender: through its policy for the sending account, or for the target's
RoleArn, which must itself be trusted by events.amazonaws.com and allowed
events:PutEvents on that bus ("Permissions for event buses"). The envelope travels
byte-identical.

>>> from localcloud.state import Role
>>> trust = ('{"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole", '
...          '"Principal": {"Service": "lambda.amazonaws.com"}}}')
>>> role = Role("arn:aws:iam::1:role/r", trust, ())
>>> role_refusal(role, bus_arn="b", rule_arn="r", rule_account="1").code
'FAILED_TO_ASSUME_ROLE'
"""

from __future__ import annotations

from collections.abc import Callable

from localcloud import arns
from localcloud.admission import Admission
from localcloud.arns import Arn, BusRef
from localcloud.cache import BoundedCache
from localcloud.delivery import (
    CROSS_ACCOUNT_INGESTION_FAILED,
    FAILED_TO_ASSUME_ROLE,
    NO_PERMISSIONS,
    NO_RESOURCE,
    THIRD_ACCOUNT_HOP_DETECTED,
    Delivery,
    DeliveryFailure,
)
from localcloud.envelope import RoutedEvent
from localcloud.permissions import EVENTS_PRINCIPAL
from localcloud.policy import PolicyError, Principal, is_allowed_by_identity
from localcloud.state import CloudState, Role
from localcloud.targets.base import TargetKind
from localcloud.trust import service_refusal


def role_refusal(role: Role, *, bus_arn: str, rule_arn: str, rule_account: str
                 ) -> DeliveryFailure | None:
    """Why EventBridge cannot deliver to ``bus_arn`` with ``role``, or None. Pure.

    The role must trust events.amazonaws.com (for this rule: aws:SourceArn and
    aws:SourceAccount in the context) and allow events:PutEvents on the bus.
    """
    if service_refusal(role, role.arn, EVENTS_PRINCIPAL, source_arn=rule_arn,
                       source_account=rule_account) is not None:
        return DeliveryFailure(FAILED_TO_ASSUME_ROLE, f"role {role.arn} does not trust "
                               f"{EVENTS_PRINCIPAL}")
    try:
        allowed = is_allowed_by_identity(role.identity_policies, action="events:PutEvents",
                                         resource=bus_arn, context={})
    except PolicyError:
        allowed = False
    if not allowed:
        return DeliveryFailure(NO_PERMISSIONS, f"role {role.arn} is not allowed "
                               f"events:PutEvents on {bus_arn}")
    return None


class EventBusTarget(TargetKind):
    """Delivers to another bus by handing the event to ``forward`` (the router routes it
    on that bus, asynchronously)."""

    name = "event bus"

    def __init__(self, state: CloudState, admission: Admission, decisions: BoundedCache,
                 forward: Callable[[BusRef, RoutedEvent], None]) -> None:
        self.state = state
        self.admission = admission
        self._decisions = decisions
        self._forward = forward

    def accepts(self, arn: Arn) -> bool:
        return arns.is_event_bus(arn)

    def deliver(self, delivery: Delivery, arn: Arn) -> bool:
        event = delivery.event
        if event.hops >= 1:
            raise DeliveryFailure(THIRD_ACCOUNT_HOP_DETECTED, f"event {event.envelope['id']} "
                                  "arrived from another bus and is not forwarded again")
        bus = arns.bus_of(arn)
        if not self.state.bus_exists(bus):
            raise DeliveryFailure(NO_RESOURCE, f"event bus {bus.arn} does not exist")
        role_arn = delivery.target.get("RoleArn")
        if role_arn:
            self._check_role(role_arn, bus_arn=bus.arn, rule_arn=delivery.rule_arn,
                             rule_account=delivery.rule_account)
            sender = Principal(account=arns.parse(role_arn).account, arn=role_arn)
        else:
            sender = Principal(account=delivery.rule_account,
                               arn=arns.account_root(delivery.rule_account))
        if not self.admission.admits_forward(event, bus, sender, rule_arn=delivery.rule_arn,
                                             rule_account=delivery.rule_account):
            # Same account: a permission error, not a cross-account ingestion failure
            # (inferred from the code names of rule-dlq.html).
            same_account = sender.account == bus.account
            raise DeliveryFailure(NO_PERMISSIONS if same_account
                                  else CROSS_ACCOUNT_INGESTION_FAILED,
                                  f"the policy of {bus.arn} does not admit {sender.arn}")
        self._forward(bus, RoutedEvent(event.envelope, event.raw, hops=event.hops + 1))
        return True

    def _check_role(self, role_arn: str, *, bus_arn: str, rule_arn: str,
                    rule_account: str) -> None:
        role = self.state.role(role_arn)
        if role is None:
            raise DeliveryFailure(FAILED_TO_ASSUME_ROLE, f"role {role_arn} does not exist")
        key = ("role", role_arn, bus_arn, rule_arn, role.trust_policy, role.identity_policies)
        failure = self._decisions.memo(key, lambda: role_refusal(
            role, bus_arn=bus_arn, rule_arn=rule_arn, rule_account=rule_account))
        if failure is not None:
            raise failure
