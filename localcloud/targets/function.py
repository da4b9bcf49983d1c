"""Lambda function targets: EventBridge needs the function's resource-based policy to allow
lambda:InvokeFunction for events.amazonaws.com (EventBridge User Guide, "Lambda
permissions"); then the event is Lambda's, invoked asynchronously
(:mod:`localcloud.lambda_async`) through the data plane's function invoker.
"""

from __future__ import annotations

from localcloud.arns import Arn
from localcloud.cache import BoundedCache
from localcloud.delivery import (
    CONNECTION_FAILURE,
    NO_PERMISSIONS,
    NO_RESOURCE,
    Delivery,
    DeliveryFailure,
    payload,
)
from localcloud.functions import FunctionInvoker
from localcloud.lambda_async import AsyncInvocations
from localcloud.permissions import EVENTS_PRINCIPAL, service_allowed
from localcloud.state import CloudState, Function
from localcloud.targets.base import TargetKind


class FunctionTarget(TargetKind):
    """Checks the function and its permission, then starts the asynchronous invocation."""

    name = "Lambda function"

    def __init__(self, state: CloudState, invoker: FunctionInvoker,
                 invocations: AsyncInvocations, decisions: BoundedCache) -> None:
        self.state = state
        self.invoker = invoker
        self.invocations = invocations
        self._decisions = decisions

    def accepts(self, arn: Arn) -> bool:
        return arn.service == "lambda"

    def deliver(self, delivery: Delivery, arn: Arn) -> bool:
        function = self._invocable(arn, rule_arn=delivery.rule_arn,
                                   rule_account=delivery.rule_account)
        why_not = self.invoker.unavailable(str(arn))
        if why_not is not None:
            raise DeliveryFailure(CONNECTION_FAILURE, why_not, retriable=True)
        self.invocations.start(delivery, arn, function, payload(delivery))
        return False

    def _invocable(self, target: Arn, *, rule_arn: str, rule_account: str) -> Function:
        """The function behind a Lambda target, if EventBridge may invoke it."""
        function = self.state.function(target)
        if function is None:
            raise DeliveryFailure(NO_RESOURCE, f"function {target} does not exist")
        allowed = self._decisions.memo(
            ("lambda", str(target), rule_arn, function.policy),
            lambda: service_allowed(function.policy, action="lambda:InvokeFunction",
                                    resource=function.arn, source_arn=rule_arn,
                                    source_account=rule_account))
        if not allowed:
            raise DeliveryFailure(NO_PERMISSIONS, f"the resource policy of {target} does not "
                                  f"let {EVENTS_PRINCIPAL} invoke it for {rule_arn}")
        return function
