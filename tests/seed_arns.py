"""The seed stage's accounts and the ARNs the policy tests reason about (one place for both
the local cloud's policy evaluator tests and the bootstrap's desired-policy tests)."""

from __future__ import annotations

REGION = "eu-west-1"
BUS_ACCOUNT, ORDER_ACCOUNT, DELIVERY_ACCOUNT, STRANGER = (
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
)
GLOBAL_BUS = f"arn:aws:events:{REGION}:{BUS_ACCOUNT}:event-bus/global-bus"
ORDER_BUS = f"arn:aws:events:{REGION}:{ORDER_ACCOUNT}:event-bus/local-bus-order-service"
FORWARD_RULE = f"arn:aws:events:{REGION}:{BUS_ACCOUNT}:rule/global-bus/global-to-order-service"
FORWARD_ROLE = f"arn:aws:iam::{BUS_ACCOUNT}:role/backbone-forward-to-order-service"
FORWARD_SESSION = (
    f"arn:aws:sts::{BUS_ACCOUNT}:assumed-role/backbone-forward-to-order-service/events-1"
)
DLQ = f"arn:aws:sqs:{REGION}:{BUS_ACCOUNT}:global-bus-forward-dlq"
