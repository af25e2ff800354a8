"""DynamoDB I/O for key requests Signoff started: recorded before the runbook, then bound to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.access_key_models import KeyRequest, RecordedKeyRequest
from bot.gateways.dynamo import REQUESTER_INDEX, Clock, DynamoTable, TableAt, expiry

# Items of their own in the approvals table, apart from executions' EXEC# items: the issuer's
# role may read and bind these and nothing else there (dynamodb:LeadingKeys in the template).
_PK_PREFIX = "KEYREQ#"
_SK = "REQUEST"


class KeyRequestRecords:
    """The key requests Signoff itself started; the issuer issues for no other.

    A request is recorded before StartAutomationExecution (its id goes to the runbook as
    `RequestId`) and bound to the execution once SSM names it. The first execution bound wins:
    a copy of a real request's parameters, started by someone else, finds it bound to another.
    """

    def __init__(self, table: TableAt, now: Clock) -> None:
        self._table = DynamoTable(table, "approvals")
        self._now = now

    def record(self, request_id: str, request: KeyRequest) -> None:
        """Write the request under a new id, before any runbook starts for it."""
        self._table.put(
            {
                **_key(request_id),
                "request_id": request_id,
                "requester": request.requester,
                "iam_user": request.iam_user,
                "reason": request.reason,
                "recorded_at": self._now().isoformat(),
                "expires_at": expiry(self._now()),
            },
            condition="attribute_not_exists(pk)",
        )

    def bind(self, request_id: str, execution_id: str) -> bool:
        """Tie the request to `execution_id`; False if it is tied to another, or unknown."""
        return self._table.update(
            _key(request_id),
            "SET execution_id = :execution",
            {":execution": execution_id},
            condition="attribute_exists(pk) AND "
            "(attribute_not_exists(execution_id) OR execution_id = :execution)",
        )

    def get(self, request_id: str) -> RecordedKeyRequest | None:
        item = self._table.get(_key(request_id))
        return _recorded(item) if item is not None else None

    def by_requester(
        self, slack_user_id: str, limit: int
    ) -> list[tuple[RecordedKeyRequest, datetime | None]]:
        """The person's latest key requests with when each was recorded, newest first (the
        Requester index, sorted by `recorded_at`)."""
        items = self._table.latest(REQUESTER_INDEX, "requester", slack_user_id, limit)
        return [(_recorded(item), _when(item.get("recorded_at"))) for item in items]

    def forget(self, request_id: str) -> None:
        """Drop a record whose runbook never started."""
        self._table.release(_key(request_id))


def _recorded(item: dict[str, Any]) -> RecordedKeyRequest:
    return RecordedKeyRequest(
        request_id=str(item["request_id"]),
        requester=str(item["requester"]),
        iam_user=str(item["iam_user"]),
        reason=str(item["reason"]),
        execution_id=str(item["execution_id"]) if item.get("execution_id") else None,
    )


def _when(raw: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def _key(request_id: str) -> dict[str, Any]:
    return {"pk": f"{_PK_PREFIX}{request_id}", "sk": _SK}
