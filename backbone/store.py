"""The service's single DynamoDB table: key ``pk`` (S) + ``sk`` (S), TTL ``expires_at``.

Items are plain dicts of JSON-like values; numbers come back as ``int`` when whole.
Conditional writes are what make the handlers idempotent: :meth:`Table.put_new`
reports whether this call created the item.

>>> table = Table()                                   # name from TABLE_NAME, at first use
>>> table.put_new({"pk": "ORDER#1", "sk": "ORDER"})
True
>>> table.put_new({"pk": "ORDER#1", "sk": "ORDER"})   # the key exists
False
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from backbone import aws, settings

PK = "pk"
SK = "sk"
TTL_ATTRIBUTE = "expires_at"


class Table:
    """Thin typed wrapper over the low-level DynamoDB client for one table."""

    def __init__(self, name: str | None = None, client: Any = None) -> None:
        self._name = name
        self._client = client

    @property
    def name(self) -> str:
        return self._name or settings.table_name()

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else aws.client("dynamodb")

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """The item, read strongly consistent, or None."""
        response = self.client.get_item(TableName=self.name, Key=_key(pk, sk),
                                         ConsistentRead=True)
        item = response.get("Item")
        return from_dynamodb(item) if item is not None else None

    def put_new(self, item: Mapping[str, Any]) -> bool:
        """Create the item unless its key exists. True if this call created it."""
        try:
            self.client.put_item(TableName=self.name, Item=to_dynamodb(item),
                                 ConditionExpression="attribute_not_exists(pk)")
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def update_if(self, pk: str, sk: str, *, set_values: Mapping[str, Any] | None = None,
                  remove: Sequence[str] = (), condition: str,
                  condition_values: Mapping[str, Any] | None = None,
                  ) -> dict[str, Any] | None:
        """SET (and REMOVE) attributes if ``condition`` holds; the new item, or None if not.

        ``condition`` may use ``#name`` for any attribute of ``set_values``/``remove`` or
        the condition's own names (every ``#x`` maps to ``x``), and ``:x`` values.

        >>> table = Table()
        >>> table.put_new({"pk": "ORDER#1", "sk": "ORDER", "status": "CREATED"})
        True
        >>> delivered = {"set_values": {"status": "DELIVERED"}, "condition": "#status = :c",
        ...              "condition_values": {"c": "CREATED"}}
        >>> table.update_if("ORDER#1", "ORDER", **delivered)["status"]
        'DELIVERED'
        >>> table.update_if("ORDER#1", "ORDER", **delivered) is None   # no longer CREATED
        True
        """
        set_values = set_values or {}
        names = {f"#{k}": k for k in [*set_values, *remove]}
        values = {f":set_{k}": v for k, v in set_values.items()}
        values.update({f":{k}": v for k, v in (condition_values or {}).items()})
        names.update({name: name[1:] for name in re.findall(r"#\w+", condition)})
        clauses = []
        if set_values:
            clauses.append("SET " + ", ".join(f"#{k} = :set_{k}" for k in set_values))
        if remove:
            clauses.append("REMOVE " + ", ".join(f"#{k}" for k in remove))
        request: dict[str, Any] = {
            "TableName": self.name, "Key": _key(pk, sk), "UpdateExpression": " ".join(clauses),
            "ConditionExpression": condition, "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_NEW"}
        if values:  # DynamoDB refuses an empty ExpressionAttributeValues
            request["ExpressionAttributeValues"] = to_dynamodb(values)
        try:
            response = self.client.update_item(**request)
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return from_dynamodb(response["Attributes"])

    def delete(self, pk: str, sk: str) -> None:
        self.client.delete_item(TableName=self.name, Key=_key(pk, sk))


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {PK: {"S": pk}, SK: {"S": sk}}


def to_dynamodb(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values to DynamoDB attribute values (floats are refused: use ints or str)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in item.items()}


def from_dynamodb(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values to plain values (whole Decimals become ints)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: _plain(deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
