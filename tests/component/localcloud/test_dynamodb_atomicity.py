"""DynamoDB's single-item writes are atomic on the local endpoint, as on AWS: a conditional
check-and-write is never interleaved with another write of the same item, so concurrent
callers cannot both pass the same condition.

Source: DynamoDB Developer Guide, "Best practices for handling concurrent updates in
DynamoDB": "Individual write operations such as UpdateItem are atomic and always operate
on the most recent version of the item, regardless of concurrency."
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from dataplane_support import Cloud

THREADS = 16
ROUNDS = 40


@pytest.fixture(autouse=True)
def _threads_switch_often() -> Iterator[None]:
    """The endpoint runs in this process: switching threads every few microseconds
    (Python's default is 5 ms) makes any unguarded check-then-write window show up."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def _table(cloud: Cloud) -> tuple[Any, str]:
    account = cloud.new_account()
    dynamodb = cloud.client(account, "dynamodb")
    dynamodb.create_table(TableName="state", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    return dynamodb, "state"


def test_of_concurrent_creates_of_one_key_exactly_one_succeeds(cloud: Cloud) -> None:
    dynamodb, table = _table(cloud)
    errors = dynamodb.exceptions.ConditionalCheckFailedException

    def create(key: str, writer: int) -> bool:
        try:
            dynamodb.put_item(TableName=table, Item={"pk": {"S": key},
                                                     "writer": {"N": str(writer)}},
                              ConditionExpression="attribute_not_exists(pk)")
        except errors:
            return False
        return True

    with ThreadPoolExecutor(THREADS) as pool:
        for round_ in range(ROUNDS):
            won = list(pool.map(lambda w, k=f"k{round_}": create(k, w), range(THREADS)))
            assert won.count(True) == 1, f"round {round_}: {won.count(True)} creators"


def test_concurrent_compare_and_set_increments_lose_no_update(cloud: Cloud) -> None:
    dynamodb, table = _table(cloud)
    key = {"pk": {"S": "counter"}}
    dynamodb.put_item(TableName=table, Item={**key, "n": {"N": "0"}})
    errors = dynamodb.exceptions.ConditionalCheckFailedException

    def increment(_: int) -> int:
        """Read n, write n + 1 if n is unchanged; the number of writes that succeeded."""
        done = 0
        for _round in range(ROUNDS // 4):
            seen = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
            n = int(seen["Item"]["n"]["N"])
            try:
                dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET n = :next",
                                     ConditionExpression="n = :seen",
                                     ExpressionAttributeValues={":seen": {"N": str(n)},
                                                                ":next": {"N": str(n + 1)}})
            except errors:
                continue
            done += 1
        return done

    with ThreadPoolExecutor(THREADS) as pool:
        succeeded = sum(pool.map(increment, range(THREADS)))

    final = int(dynamodb.get_item(TableName=table, Key=key)["Item"]["n"]["N"])
    assert final == succeeded > 0
