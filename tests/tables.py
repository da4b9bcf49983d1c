"""A service table in moto, shaped as ``infra_bootstrap create`` makes it."""

from __future__ import annotations

from typing import Any


def create_table(dynamodb: Any, name: str) -> None:
    """pk/sk strings, TTL on ``expires_at``, on demand; ``dynamodb`` is a boto3 client."""
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}])
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires_at"})
