"""What every DynamoDB gateway shares: conditional writes, claims, paging, domain errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bot.errors import ServiceError
from bot.gateways.aws import error_code, wrap_client_error

if TYPE_CHECKING:
    from boto3.dynamodb.conditions import ConditionBase
    from mypy_boto3_dynamodb.service_resource import Table

Clock = Callable[[], datetime]
Key = Mapping[str, Any]

# Cards, claims and flows outlive their approval by this long, then DynamoDB's TTL removes them
# (SSM's longest approval timeout is 30 days; a flow's writes push its expiry out again).
RETENTION = timedelta(days=45)
_CONDITION_FAILED = "ConditionalCheckFailedException"


def expiry(now: datetime) -> int:
    """The TTL attribute's value (epoch seconds) for an item written at `now`."""
    return int((now + RETENTION).timestamp())


class DynamoTable:
    """One table's reads and writes, each failure a domain error that names the table.

    A failed condition is an answer (False), not an error: it is how a claim finds it lost. Any
    other refusal is a ServiceError, a TransientError when AWS was busy.
    """

    def __init__(self, table: Table, name: str) -> None:
        self._table = table
        self._name = name

    def get(self, key: Key, *, consistent: bool = True) -> dict[str, Any] | None:
        try:
            response = self._table.get_item(Key=dict(key), ConsistentRead=consistent)
        except ClientError as exc:
            raise self._error(exc, "read") from exc
        return response.get("Item")

    def put(self, item: Mapping[str, Any], condition: str | None = None) -> None:
        """Write `item`; a failed `condition` is an error like any other refusal."""
        kwargs: dict[str, Any] = {"Item": dict(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        try:
            self._table.put_item(**kwargs)
        except ClientError as exc:
            raise self._error(exc, "write to") from exc

    def claim(
        self,
        item: Mapping[str, Any],
        condition: str = "attribute_not_exists(pk)",
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        """Write `item` if `condition` holds (by default: nothing is there yet); False if not."""
        kwargs: dict[str, Any] = {"Item": dict(item), "ConditionExpression": condition}
        if values:
            kwargs["ExpressionAttributeValues"] = dict(values)
        try:
            self._table.put_item(**kwargs)
        except ClientError as exc:
            if error_code(exc) == _CONDITION_FAILED:
                return False
            raise self._error(exc, "write to") from exc
        return True

    def release(self, key: Key) -> None:
        """Give up a claim, so a retry can take it again."""
        try:
            self._table.delete_item(Key=dict(key))
        except ClientError as exc:
            raise self._error(exc, "release a claim in") from exc

    def delete(self, key: Key) -> bool:
        """Delete an item; False if there was none."""
        try:
            response = self._table.delete_item(Key=dict(key), ReturnValues="ALL_OLD")
        except ClientError as exc:
            raise self._error(exc, "write to") from exc
        return "Attributes" in response

    def update(
        self,
        key: Key,
        expression: str,
        values: Mapping[str, Any] | None = None,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> bool:
        """Apply `expression`; False (nothing changed) when `condition` does not hold."""
        kwargs: dict[str, Any] = {"Key": dict(key), "UpdateExpression": expression}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = dict(values)
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        try:
            self._table.update_item(**kwargs)
        except ClientError as exc:
            if condition and error_code(exc) == _CONDITION_FAILED:
                return False
            raise self._error(exc, "update") from exc
        return True

    def update_returning(
        self, key: Key, expression: str, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Apply `expression` unconditionally; the whole item as it is afterwards (ALL_NEW: an
        attribute set to the value it had is missing from UPDATED_NEW in some implementations)."""
        try:
            response = self._table.update_item(
                Key=dict(key),
                UpdateExpression=expression,
                ExpressionAttributeValues=dict(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            raise self._error(exc, "update") from exc
        return dict(response.get("Attributes", {}))

    def query(self, condition: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """One page of a strongly consistent query (Signoff's partitions stay small)."""
        try:
            response = self._table.query(
                KeyConditionExpression=condition,
                ExpressionAttributeValues=dict(values),
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise self._error(exc, "read") from exc
        return list(response["Items"])

    def scan(self, where: ConditionBase | None = None) -> Iterator[dict[str, Any]]:
        """Every item (that matches `where`), page by page as they are read."""
        kwargs: dict[str, Any] = {} if where is None else {"FilterExpression": where}
        while True:
            try:
                response = self._table.scan(**kwargs)
            except ClientError as exc:
                raise self._error(exc, "scan") from exc
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _error(self, exc: ClientError, verb: str) -> ServiceError:
        return wrap_client_error(exc, f"{verb} the {self._name} table")
