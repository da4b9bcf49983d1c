"""ARNs are parsed in one place (names.py), as strictly as the callers need."""

from __future__ import annotations

import re

import pytest

from backbone.subscriptions import Subscription
from infra_bootstrap import names
from infra_bootstrap.errors import UsageError
from infra_bootstrap.subscribe import desired_subscriptions
from infra_bootstrap.topology import load_stage

ORDER_CREATED = Subscription(
    "on_order_created", {"source": ["order-service"], "detail-type": ["Order.Created"]},
    handler=lambda event, context: None)
FUNCTION = "arn:aws:lambda:eu-west-1:333333333333:function:delivery-service-test-on_x"


def test_parse_arn_splits_the_six_parts_and_keeps_the_resource_whole() -> None:
    arn = names.parse_arn("arn:aws-cn:iam::222222222222:role/path/to/Admin")

    assert arn == names.Arn("aws-cn", "iam", "", "222222222222", "role/path/to/Admin")


@pytest.mark.parametrize("text", ["", "global-bus", "arn:aws:events", "urn:aws:sqs:r:1:q",
                                  "arn:aws:sqs:eu-west-1:111111111111:"])
def test_parse_arn_refuses_what_is_not_an_arn(text: str) -> None:
    with pytest.raises(names.InvalidArn, match="is not an ARN"):
        names.parse_arn(text)


@pytest.mark.parametrize(("arn", "expected"), [
    (FUNCTION, ("333333333333", "delivery-service-test-on_x")),
    (f"{FUNCTION}:$LATEST", ("333333333333", "delivery-service-test-on_x")),
])
def test_lambda_function_of_drops_the_qualifier(arn: str, expected: tuple[str, str]) -> None:
    assert names.lambda_function_of(arn) == expected


@pytest.mark.parametrize("arn", ["arn:aws:lambda:eu-west-1:333333333333:layer:x:1",
                                 "arn:aws:sqs:eu-west-1:333333333333:function:x",
                                 "arn:aws:lambda:eu-west-1:333333333333:function:",
                                 "delivery-service-test-on_x"])
def test_lambda_function_of_refuses_other_arns(arn: str) -> None:
    with pytest.raises(UsageError, match=f"^{re.escape(arn)} is not a Lambda function ARN$"):
        names.lambda_function_of(arn)


def test_bus_and_log_group_of_answer_none_for_other_kinds() -> None:
    queue = names.queue_arn("eu-west-1", "111111111111", "q")
    log_group = names.log_group_arn("eu-west-1", "111111111111", "/aws/events/backbone/x")

    assert names.event_bus_of(queue) is None
    assert names.event_bus_of("not an arn") is None
    assert names.log_group_of(log_group) == "/aws/events/backbone/x"
    assert names.log_group_of(f"{log_group}:*") == "/aws/events/backbone/x"
    assert names.log_group_of(queue) is None


def test_subscribe_refuses_a_function_in_another_account_or_not_a_function() -> None:
    stage = load_stage("local")
    order = stage.service("order-service")

    with pytest.raises(UsageError, match="is in account 333333333333, not the service's "
                                         "222222222222"):
        desired_subscriptions(stage, order, [ORDER_CREATED], {"on_order_created": FUNCTION})
    with pytest.raises(UsageError, match="is not a Lambda function ARN"):
        desired_subscriptions(stage, order, [ORDER_CREATED],
                              {"on_order_created": "arn:aws:sqs:eu-west-1:222222222222:q"})
