"""The policy questions the data plane asks, phrased once: ``policy.evaluate`` with the
request context EventBridge sends.

>>> import json
>>> doc = {"Statement": {"Effect": "Allow", "Action": "sqs:SendMessage",
...        "Principal": {"Service": "events.amazonaws.com"},
...        "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:r:1:rule/x"}}}}
>>> service_allowed(json.dumps(doc), action="sqs:SendMessage", resource="arn:aws:sqs:r:1:q",
...                 source_arn=None, source_account=None)
False
>>> service_allowed(json.dumps(doc), action="sqs:SendMessage", resource="arn:aws:sqs:r:1:q",
...                 source_arn="arn:aws:events:r:1:rule/x", source_account="1")
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from localcloud.policy import Decision, PolicyError, Principal, evaluate

EVENTS_PRINCIPAL = "events.amazonaws.com"
APIGATEWAY_PRINCIPAL = "apigateway.amazonaws.com"


def decide(policy: str | None, *, principal: Principal | None, action: str, resource: str,
           context: Mapping[str, str | Sequence[str]]) -> Decision:
    """``policy.evaluate``, where a document that is not a valid policy allows nothing.

    >>> decide("{not json", principal=None, action="a:b", resource="*", context={}).name
    'IMPLICIT_DENY'
    """
    try:
        return evaluate(policy, principal=principal, action=action, resource=resource,
                        context=context)
    except PolicyError:
        return Decision.IMPLICIT_DENY


def service_allowed(policy: str | None, *, action: str, resource: str,
                    source_arn: str | None, source_account: str | None,
                    service: str = EVENTS_PRINCIPAL) -> bool:
    """May EventBridge (or another service principal) do ``action`` on ``resource``?

    Context keys as EventBridge sends them to the target's service: aws:SourceArn is the
    rule ARN and aws:SourceAccount the rule's account (EventBridge User Guide, "Using IAM
    policy conditions in Amazon EventBridge": aws:SourceAccount is "the account where the
    rule specified by aws:SourceArn exists"). ``None`` leaves a key out of the request
    context, as for calls EventBridge makes without them (logs:CreateLogStream). API
    Gateway (``service=APIGATEWAY_PRINCIPAL``) sends the method's execute-api ARN and
    the API's account.
    """
    if not policy:
        return False
    context = {key: value for key, value in (("aws:SourceArn", source_arn),
                                             ("aws:SourceAccount", source_account)) if value}
    return decide(policy, principal=Principal(service=service), action=action,
                  resource=resource, context=context) is Decision.ALLOW
