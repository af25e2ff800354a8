"""Flow claims a later invocation may take over from one that died mid-work, for `once`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.gateways.claims import ClaimKey
from bot.gateways.dynamo import Clock, DynamoTable, expiry


class TakeOver:
    """Claims a later invocation may take over from one that died mid-work (`condition` says
    when: its claim is older than a Lambda can run, and its work is not done)."""

    def __init__(
        self,
        table: DynamoTable,
        now: Clock,
        condition: str,
        values: Mapping[str, Any],
        **fixed: Any,
    ) -> None:
        self._table = table
        self._now = now
        self._condition = condition
        self._values = values
        self._fixed = fixed

    def take(self, key: ClaimKey, **attributes: Any) -> bool:
        now = self._now()
        item = {
            "pk": key.pk,
            "sk": key.sk,
            **self._fixed,
            **attributes,
            "claimed_at": now.isoformat(),
            "expires_at": expiry(now),
        }
        return self._table.claim(item, self._condition, self._values)

    def release(self, key: ClaimKey) -> None:
        self._table.release({"pk": key.pk, "sk": key.sk})


class RootPosting:
    """Who posts a flow's root message: a `posting_at` mark on the flow's item, set only while
    no root is recorded and no other mark is fresher than `stale_before`."""

    def __init__(self, table: DynamoTable, now: Clock, stale_before: datetime) -> None:
        self._table = table
        self._now = now
        self._stale_before = stale_before

    def take(self, key: ClaimKey, **attributes: Any) -> bool:
        return self._table.update(
            {"pk": key.pk, "sk": key.sk},
            "SET posting_at = :now",
            {":now": self._now().isoformat(), ":stale": self._stale_before.isoformat()},
            condition="attribute_exists(pk) AND attribute_not_exists(root_ts) AND "
            "(attribute_not_exists(posting_at) OR posting_at < :stale)",
        )

    def release(self, key: ClaimKey) -> None:
        self._table.update({"pk": key.pk, "sk": key.sk}, "REMOVE posting_at")
