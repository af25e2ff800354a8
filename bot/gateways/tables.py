"""DynamoDB I/O: approval cards and exactly-once claims, identities, the append-only audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from bot.gateways.aws import error_code, wrap_client_error
from bot.models import CardRef, Identity, Outcome

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

Clock = Callable[[], datetime]

# Cards and claims outlive their approval by this long, then DynamoDB's TTL removes them
# (SSM's longest approval timeout is 30 days).
_RETENTION = timedelta(days=45)
_CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class CardItem:
    """What the approvals table knows about one approval's Slack card."""

    execution_id: str
    step_name: str
    channel: str
    ts: str | None
    rank: int
    outcome: Outcome
    created_at: datetime
    flow_id: str | None = None
    level: int | None = None
    levels: int | None = None
    thread_ts: str | None = None

    @property
    def ref(self) -> CardRef | None:
        return CardRef(self.channel, self.ts) if self.ts else None

    @property
    def thread_ref(self) -> CardRef | None:
        """The thread the card's story goes in when the card itself sits in a flow's thread."""
        return CardRef(self.channel, self.thread_ts) if self.thread_ts else None


class ApprovalStore:
    """Approvals table: one card item per approval step plus claim items that make work happen once.

    Every inbound path is at-least-once (SNS, EventBridge, Slack and Lambda retries); a claim is a
    conditional put that only the first caller wins.
    """

    def __init__(self, table: Table, now: Clock) -> None:
        self._table = table
        self._now = now

    def claim_card(self, execution_id: str, step_name: str, channel: str, **extra: Any) -> bool:
        """Reserve the right to post this approval's card; False when someone already did."""
        item = {
            "pk": _pk(execution_id),
            "sk": f"CARD#{step_name}",
            "execution_id": execution_id,
            "step_name": step_name,
            "channel": channel,
            "rank": -1,
            "outcome": Outcome.WAITING.value,
            "created_at": self._now().isoformat(),
            "expires_at": self._expiry(),
            **{k: v for k, v in extra.items() if v is not None},
        }
        return self._put_once(item)

    def set_card_ts(self, execution_id: str, step_name: str, ref: CardRef) -> None:
        self._update(
            execution_id,
            f"CARD#{step_name}",
            "SET ts = :ts, channel = :channel",
            {":ts": ref.ts, ":channel": ref.channel},
        )

    def release_card(self, execution_id: str, step_name: str) -> None:
        """Give up a claim whose post failed, so a retry (or the reconciler) can post again."""
        self.release(execution_id, f"CARD#{step_name}")

    def card(self, execution_id: str, step_name: str) -> CardItem | None:
        item = self._get(execution_id, f"CARD#{step_name}")
        return _card(item) if item else None

    def cards(self, execution_id: str) -> list[CardItem]:
        try:
            response = self._table.query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :card)",
                ExpressionAttributeValues={":pk": _pk(execution_id), ":card": "CARD#"},
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise wrap_client_error(exc, "read the approvals table") from exc
        return [_card(item) for item in response["Items"]]

    def open_cards(self) -> Iterator[CardItem]:
        """Cards still showing Waiting (for the reconciler to re-check against SSM)."""
        kwargs: dict[str, Any] = {
            "FilterExpression": Attr("sk").begins_with("CARD#")
            & Attr("outcome").eq(Outcome.WAITING.value)
        }
        while True:
            try:
                response = self._table.scan(**kwargs)
            except ClientError as exc:
                raise wrap_client_error(exc, "scan the approvals table") from exc
            yield from (_card(item) for item in response["Items"])
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def raise_rank(self, execution_id: str, step_name: str, rank: int, outcome: Outcome) -> bool:
        """Record that the card now shows a later state; False if it already shows this or later."""
        try:
            self._table.update_item(
                Key={"pk": _pk(execution_id), "sk": f"CARD#{step_name}"},
                UpdateExpression="SET #rank = :rank, outcome = :outcome",
                ConditionExpression="attribute_exists(pk) AND #rank < :rank",
                ExpressionAttributeNames={"#rank": "rank"},
                ExpressionAttributeValues={":rank": rank, ":outcome": outcome.value},
            )
        except ClientError as exc:
            if error_code(exc) == _CONDITION_FAILED:
                return False
            raise wrap_client_error(exc, "update the approvals table") from exc
        return True

    def lower_rank(
        self, execution_id: str, step_name: str, rank: int, back_to: int, outcome: Outcome
    ) -> None:
        """Undo `raise_rank(rank)` when Slack never showed that state (unless a later one came)."""
        try:
            self._table.update_item(
                Key={"pk": _pk(execution_id), "sk": f"CARD#{step_name}"},
                UpdateExpression="SET #rank = :back, outcome = :outcome",
                ConditionExpression="#rank = :rank",
                ExpressionAttributeNames={"#rank": "rank"},
                ExpressionAttributeValues={
                    ":rank": rank,
                    ":back": back_to,
                    ":outcome": outcome.value,
                },
            )
        except ClientError as exc:
            if error_code(exc) != _CONDITION_FAILED:
                raise wrap_client_error(exc, "update the approvals table") from exc

    def claim(self, execution_id: str, key: str, **attributes: Any) -> bool:
        """Take a one-time claim (a decision, an announcement, a reminder); False if taken."""
        item = {
            "pk": _pk(execution_id),
            "sk": f"CLAIM#{key}",
            "claimed_at": self._now().isoformat(),
            "expires_at": self._expiry(),
            **attributes,
        }
        return self._put_once(item)

    def release(self, execution_id: str, key: str) -> None:
        sk = key if key.startswith("CARD#") else f"CLAIM#{key}"
        try:
            self._table.delete_item(Key={"pk": _pk(execution_id), "sk": sk})
        except ClientError as exc:
            raise wrap_client_error(exc, "release a claim in the approvals table") from exc

    def has_claim(self, execution_id: str, key: str) -> bool:
        return self._get(execution_id, f"CLAIM#{key}") is not None

    def _put_once(self, item: Mapping[str, Any]) -> bool:
        try:
            self._table.put_item(Item=dict(item), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if error_code(exc) == _CONDITION_FAILED:
                return False
            raise wrap_client_error(exc, "write to the approvals table") from exc
        return True

    def _get(self, execution_id: str, sk: str) -> dict[str, Any] | None:
        try:
            response = self._table.get_item(
                Key={"pk": _pk(execution_id), "sk": sk}, ConsistentRead=True
            )
        except ClientError as exc:
            raise wrap_client_error(exc, "read the approvals table") from exc
        return response.get("Item")

    def _update(self, execution_id: str, sk: str, expression: str, values: dict[str, Any]) -> None:
        try:
            self._table.update_item(
                Key={"pk": _pk(execution_id), "sk": sk},
                UpdateExpression=expression,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            raise wrap_client_error(exc, "update the approvals table") from exc

    def _expiry(self) -> int:
        return int((self._now() + _RETENTION).timestamp())


class IdentityStore:
    """Identities table: Slack user id → the IAM role they act through (and IAM user they are)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, slack_user_id: str) -> Identity | None:
        try:
            item = self._table.get_item(Key={"slack_user_id": slack_user_id}).get("Item")
        except ClientError as exc:
            raise wrap_client_error(exc, "read the identities table") from exc
        return _identity(item) if item else None

    def put(self, identity: Identity) -> None:
        item = {
            "slack_user_id": identity.slack_user_id,
            "display_name": identity.display_name,
            "role_arn": identity.role_arn,
            "iam_user": identity.iam_user,
        }
        try:
            self._table.put_item(Item={k: v for k, v in item.items() if v})
        except ClientError as exc:
            raise wrap_client_error(exc, "write to the identities table") from exc

    def delete(self, slack_user_id: str) -> bool:
        try:
            response = self._table.delete_item(
                Key={"slack_user_id": slack_user_id}, ReturnValues="ALL_OLD"
            )
        except ClientError as exc:
            raise wrap_client_error(exc, "write to the identities table") from exc
        return "Attributes" in response

    def all(self) -> list[Identity]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            try:
                response = self._table.scan(**kwargs)
            except ClientError as exc:
                raise wrap_client_error(exc, "scan the identities table") from exc
            items.extend(response["Items"])
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return sorted((_identity(i) for i in items), key=lambda i: i.display_name)


class AuditLog:
    """Audit table: append-only events, pk = flow or execution id, sk = time#unique suffix."""

    def __init__(self, table: Table, now: Clock) -> None:
        self._table = table
        self._now = now

    def append(self, subject: str, event: str, **fields: Any) -> None:
        at = self._now()
        item = {
            "pk": subject,
            "sk": f"{at.isoformat()}#{uuid.uuid4().hex[:12]}",
            "at": at.isoformat(),
            "event": event,
            **{k: v for k, v in fields.items() if v not in (None, "", [], ())},
        }
        try:
            # Never overwrite: an audit row, once written, stays as written.
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(sk)")
        except ClientError as exc:
            raise wrap_client_error(exc, "write to the audit table") from exc

    def events(self, subject: str) -> list[dict[str, Any]]:
        try:
            response = self._table.query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": subject},
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise wrap_client_error(exc, "read the audit table") from exc
        return list(response["Items"])

    def since(self, start: datetime) -> list[dict[str, Any]]:
        """Every event at or after `start`, oldest first."""
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"FilterExpression": Attr("at").gte(start.isoformat())}
        while True:
            try:
                response = self._table.scan(**kwargs)
            except ClientError as exc:
                raise wrap_client_error(exc, "scan the audit table") from exc
            rows.extend(response["Items"])
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return sorted(rows, key=lambda r: (str(r["at"]), str(r["sk"])))


def _pk(execution_id: str) -> str:
    return f"EXEC#{execution_id}"


def _card(item: Mapping[str, Any]) -> CardItem:
    level, levels = item.get("level"), item.get("levels")
    return CardItem(
        execution_id=str(item["execution_id"]),
        step_name=str(item["step_name"]),
        channel=str(item["channel"]),
        ts=str(item["ts"]) if item.get("ts") else None,
        rank=int(item.get("rank", -1)),
        outcome=Outcome(item.get("outcome", Outcome.WAITING.value)),
        created_at=datetime.fromisoformat(str(item["created_at"])),
        flow_id=str(item["flow_id"]) if item.get("flow_id") else None,
        level=int(level) if level is not None else None,
        levels=int(levels) if levels is not None else None,
        thread_ts=str(item["thread_ts"]) if item.get("thread_ts") else None,
    )


def _identity(item: Mapping[str, Any]) -> Identity:
    return Identity(
        slack_user_id=str(item["slack_user_id"]),
        display_name=str(item.get("display_name") or item["slack_user_id"]),
        role_arn=str(item["role_arn"]) if item.get("role_arn") else None,
        iam_user=str(item["iam_user"]) if item.get("iam_user") else None,
    )
