"""What every DynamoDB gateway shares: conditional writes, claims, paging, domain errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

import msgspec

from bot.errors import ServiceError, TransientError
from bot.gateways.aws import AWS_FAILURES, AwsFailure, error_code, wrap_aws_error

Clock = Callable[[], datetime]
Key = Mapping[str, Any]

# Cards, claims and flows outlive their approval by this long, then DynamoDB's TTL removes them
# (SSM's longest approval timeout is 30 days; a flow's writes push its expiry out again).
RETENTION = timedelta(days=45)
_CONDITION_FAILED = "ConditionalCheckFailedException"
# The approvals table's sparse index of what is still waiting (infra/template.yaml): an item is
# in it exactly while it carries OPEN_KIND, so the reconciler reads the few open cards and levels
# instead of scanning every card, claim and level of the last 45 days.
OPEN_INDEX = "Open"
OPEN_KIND = "open_kind"
# Sparse indexes by person, for a Home tab (infra/template.yaml): key requests by who asked (only
# they carry `requester` in the approvals table), audit rows by the Slack user who acted.
REQUESTER_INDEX = "Requester"
PERSON_INDEX = "Person"
# BatchGetItem takes at most 100 keys; the keys it leaves unprocessed (the table was busy) are
# asked again after a pause that doubles, this many times.
_BATCH_KEYS = 100
_UNPROCESSED_RETRIES = 5
_UNPROCESSED_PAUSE = 0.05


def expiry(now: datetime) -> int:
    """The TTL attribute's value (epoch seconds) for an item written at `now`."""
    return int((now + RETENTION).timestamp())


class TableAt(msgspec.Struct, frozen=True):
    """A table by name on a low-level DynamoDB client (`session.client("dynamodb")`).

    Not boto3's Table resource: its layer would cost each cold start its own model and client
    (about 7 ms) and every call a walk of the request's shapes, and its client converts values
    itself. DynamoTable converts them (`_wire`, `_plain`).
    """

    client: Any
    name: str


# DynamoDB's numbers: 38 digits, exactly (the context boto3.dynamodb.types uses). Values are
# converted here, not by boto3's TypeSerializer: importing anything of boto3 costs a cold start
# about 30 ms (its session, resource factory and s3transfer), and the functions need only
# botocore. The same types, the same wire form; a float is refused, as boto3 refuses it.
_NUMBERS = Context(
    Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow]
)


def open_while_waiting(kind: str, waiting: bool) -> tuple[str, str, dict[str, str]]:
    """The SET part, the REMOVE part and the values an update that writes an item's outcome
    needs to keep the item in the Open index exactly while it waits."""
    if waiting:
        return f", {OPEN_KIND} = :open_kind", "", {":open_kind": kind}
    return "", f" REMOVE {OPEN_KIND}", {}


def _to_wire(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": str(_NUMBERS.create_decimal(value))}
    if isinstance(value, Mapping):
        return {"M": {str(k): _to_wire(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [_to_wire(v) for v in value]}
    if isinstance(value, set | frozenset) and value and all(isinstance(v, str) for v in value):
        return {"SS": sorted(value)}
    hint = " (use Decimal for numbers)" if isinstance(value, float) else ""
    raise TypeError(f"DynamoDB cannot store a {type(value).__name__}{hint}: {value!r}")


def _from_wire(value: Mapping[str, Any]) -> Any:
    [(kind, data)] = value.items()
    if kind in ("S", "BOOL"):
        return data
    if kind == "N":
        return _NUMBERS.create_decimal(data)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: _from_wire(v) for k, v in data.items()}
    if kind == "L":
        return [_from_wire(v) for v in data]
    if kind == "SS":
        return set(data)
    if kind == "NS":
        return {_NUMBERS.create_decimal(n) for n in data}
    raise ValueError(f"a DynamoDB {kind} value, which Signoff never writes: {data!r}")


def _wire(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _to_wire(v) for k, v in values.items()}


def _key_of(wire: Mapping[str, Any]) -> str:
    """A wire-form key as a hashable value (its attributes in a fixed order)."""
    return msgspec.json.encode(dict(sorted(wire.items()))).decode()


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _from_wire(v) for k, v in item.items()}


class DynamoTable:
    """One table's reads and writes, each failure a domain error that names the table.

    A failed condition is an answer (False), not an error: it is how a claim finds it lost. Any
    other refusal is a ServiceError, a TransientError when AWS was busy. Items and values are
    plain Python (numbers come back as Decimal), as boto3's Table resource has them.
    """

    def __init__(self, table: TableAt, name: str) -> None:
        self._client = table.client
        self._table_name = table.name
        self._name = name

    def get(self, key: Key, *, consistent: bool = True) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(
                TableName=self._table_name, Key=_wire(key), ConsistentRead=consistent
            )
        except AWS_FAILURES as exc:
            raise self._error(exc, "read") from exc
        item = response.get("Item")
        return _plain(item) if item else None

    def get_many(self, keys: Sequence[Key]) -> list[dict[str, Any]]:
        """The items at `keys` that exist, in no particular order, read strongly consistent as
        `get` reads: one BatchGetItem per 100 keys instead of a GetItem each (repeated keys are
        read once)."""
        pending = list({_key_of(_wire(key)): _wire(key) for key in keys}.values())
        found: list[dict[str, Any]] = []
        retries = 0
        while pending:
            batch, pending = pending[:_BATCH_KEYS], pending[_BATCH_KEYS:]
            request = {self._table_name: {"Keys": batch, "ConsistentRead": True}}
            try:
                response = self._client.batch_get_item(RequestItems=request)
            except AWS_FAILURES as exc:
                raise self._error(exc, "read") from exc
            found.extend(_plain(item) for item in response["Responses"].get(self._table_name, []))
            left = response.get("UnprocessedKeys", {}).get(self._table_name, {}).get("Keys", [])
            if left:
                if retries == _UNPROCESSED_RETRIES:
                    raise TransientError(
                        f"AWS was busy while trying to read the {self._name} table "
                        f"({len(left)} keys left unprocessed); try again."
                    )
                time.sleep(_UNPROCESSED_PAUSE * 2**retries)
                retries += 1
                pending = left + pending
        return found

    def put(self, item: Mapping[str, Any], condition: str | None = None) -> None:
        """Write `item`; a failed `condition` is an error like any other refusal."""
        kwargs: dict[str, Any] = {"TableName": self._table_name, "Item": _wire(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        try:
            self._client.put_item(**kwargs)
        except AWS_FAILURES as exc:
            raise self._error(exc, "write to") from exc

    def claim(
        self,
        item: Mapping[str, Any],
        condition: str = "attribute_not_exists(pk)",
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        """Write `item` if `condition` holds (by default: nothing is there yet); False if not."""
        kwargs: dict[str, Any] = {
            "TableName": self._table_name,
            "Item": _wire(item),
            "ConditionExpression": condition,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = _wire(values)
        try:
            self._client.put_item(**kwargs)
        except AWS_FAILURES as exc:
            if error_code(exc) == _CONDITION_FAILED:
                return False
            raise self._error(exc, "write to") from exc
        return True

    def release(self, key: Key) -> None:
        """Give up a claim, so a retry can take it again."""
        try:
            self._client.delete_item(TableName=self._table_name, Key=_wire(key))
        except AWS_FAILURES as exc:
            raise self._error(exc, "release a claim in") from exc

    def delete(self, key: Key) -> bool:
        """Delete an item; False if there was none."""
        try:
            response = self._client.delete_item(
                TableName=self._table_name, Key=_wire(key), ReturnValues="ALL_OLD"
            )
        except AWS_FAILURES as exc:
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
        kwargs: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": _wire(key),
            "UpdateExpression": expression,
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = _wire(values)
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        try:
            self._client.update_item(**kwargs)
        except AWS_FAILURES as exc:
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
            response = self._client.update_item(
                TableName=self._table_name,
                Key=_wire(key),
                UpdateExpression=expression,
                ExpressionAttributeValues=_wire(values),
                ReturnValues="ALL_NEW",
            )
        except AWS_FAILURES as exc:
            raise self._error(exc, "update") from exc
        return _plain(response.get("Attributes", {}))

    def query(self, condition: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """One page of a strongly consistent query (Signoff's partitions stay small)."""
        try:
            response = self._client.query(
                TableName=self._table_name,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=_wire(values),
                ConsistentRead=True,
            )
        except AWS_FAILURES as exc:
            raise self._error(exc, "read") from exc
        return [_plain(item) for item in response["Items"]]

    def open_items(self, kind: str) -> Iterator[dict[str, Any]]:
        """Every item of `kind` in the Open index (items that wait), page by page. The index is
        eventually consistent: an item written a moment ago may not be in it yet."""
        return self._pages(
            self._client.query,
            {
                "TableName": self._table_name,
                "IndexName": OPEN_INDEX,
                "KeyConditionExpression": f"{OPEN_KIND} = :kind",
                "ExpressionAttributeValues": _wire({":kind": kind}),
            },
            "read",
        )

    def latest(self, index: str, attribute: str, value: str, limit: int) -> list[dict[str, Any]]:
        """The `limit` items of a sparse index whose `attribute` is `value`, latest sort key
        first: one page (a Home tab shows a handful). Eventually consistent, as every GSI read."""
        try:
            response = self._client.query(
                TableName=self._table_name,
                IndexName=index,
                KeyConditionExpression="#key = :value",
                ExpressionAttributeNames={"#key": attribute},
                ExpressionAttributeValues=_wire({":value": value}),
                ScanIndexForward=False,
                Limit=limit,
            )
        except AWS_FAILURES as exc:
            raise self._error(exc, "read") from exc
        return [_plain(item) for item in response["Items"]]

    def scan(
        self,
        where: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item (that matches the filter `where`), page by page as they are read."""
        kwargs: dict[str, Any] = {"TableName": self._table_name}
        if where is not None:
            kwargs["FilterExpression"] = where
        if values:
            kwargs["ExpressionAttributeValues"] = _wire(values)
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        return self._pages(self._client.scan, kwargs, "scan")

    def _pages(
        self, call: Callable[..., Any], kwargs: dict[str, Any], verb: str
    ) -> Iterator[dict[str, Any]]:
        """The items of a paged Query or Scan, each page read when the one before is used up."""
        while True:
            try:
                response = call(**kwargs)
            except AWS_FAILURES as exc:
                raise self._error(exc, verb) from exc
            yield from (_plain(item) for item in response["Items"])
            if "LastEvaluatedKey" not in response:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": response["LastEvaluatedKey"]}

    def _error(self, exc: AwsFailure, verb: str) -> ServiceError:
        return wrap_aws_error(exc, f"{verb} the {self._name} table")
