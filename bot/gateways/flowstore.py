"""DynamoDB I/O for multi-level flows: the flow, its levels, which execution is which level."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import msgspec

from bot.gateways.claims import ClaimKey, Claims, ClaimTable
from bot.gateways.dynamo import Clock, DynamoTable, TableAt, expiry, open_while_waiting
from bot.gateways.flowclaims import RootPosting, TakeOver
from bot.models import CardRef, Outcome
from bot.validation import Secret

# A level's kind in the approvals table's Open index.
_OPEN_LEVEL = "LEVEL"


class Membership(msgspec.Struct, frozen=True):
    """Which parent flow and level an approval belongs to."""

    flow_id: str
    level: int
    levels: int
    execution_id: str | None = None
    handle: str | None = None  # the task's handle; None for executions started before handles


class TaskHandle(msgspec.Struct, frozen=True):
    """A level's task token, kept in Signoff's table under an opaque handle.

    SSM sees only the handle. `execution_id` is the one automation Signoff started for the task,
    bound after its start returned: until then the task is pending and nothing completes it.
    """

    member: Membership
    token: Secret
    execution_id: str | None = None


class FlowItem(msgspec.Struct, frozen=True):
    """A parent execution as Signoff tracks it: where its thread is, how it ended."""

    flow_id: str
    levels: int
    channel: str
    name: str
    description: str = ""
    root_ts: str | None = None
    outcome: Outcome = Outcome.WAITING
    version: int = 0
    rendered: int = -1  # the version the root message last showed

    @property
    def root(self) -> CardRef | None:
        return CardRef(self.channel, self.root_ts) if self.root_ts else None


class LevelItem(msgspec.Struct, frozen=True):
    """One level's latest known state; `rank` only grows for one execution (Approval.rank)."""

    flow_id: str
    level: int
    execution_id: str | None
    outcome: Outcome
    rank: int = -1
    done: int = 0
    needed: int = 0
    approved_by: tuple[str, ...] = ()
    rejected_by: tuple[str, ...] = ()
    channel: str | None = None
    pointer_ts: str | None = None


class FlowStore:
    """Flow items in the approvals table (pk FLOW#/EXEC#/TASK#), each write conditional."""

    def __init__(self, table: TableAt, now: Clock) -> None:
        self._table = DynamoTable(table, "approvals")
        self._now = now
        self.claims = ClaimTable(self._table, now)

    # -- task tokens: claimed by their hash, kept under a handle, bound to one execution --------

    def task_claim(self, task_key: str) -> ClaimKey:
        """Starting one task's approval (the task known by its token's hash)."""
        return ClaimKey(f"TASK#{task_key}", "TASK")

    def task_claims(self, stale_before: datetime) -> Claims:
        """Task claims; one older than `stale_before` whose start never finished is void."""
        return TakeOver(
            self._table,
            self._now,
            "attribute_not_exists(pk) OR "
            "(attribute_not_exists(execution_id) AND claimed_at < :stale)",
            {":stale": stale_before.isoformat()},
        )

    def finish_task(self, task_key: str, execution_id: str) -> None:
        self._table.update(_task(task_key), "SET execution_id = :eid", {":eid": execution_id})

    def task(self, task_key: str) -> Membership | None:
        item = self._table.get(_task(task_key))
        return _membership(item) if item else None

    def put_handle(self, handle: str, token: str, member: Membership) -> None:
        """Keep the task's token under `handle`, pending: written before the start, never after."""
        item: dict[str, Any] = {
            "pk": f"HANDLE#{handle}",
            "sk": "TASK",
            "flow_id": member.flow_id,
            "level": member.level,
            "levels": member.levels,
            "token": token,
            "expires_at": expiry(self._now()),
        }
        self._table.put(item, condition="attribute_not_exists(pk)")

    def bind_handle(self, handle: str, execution_id: str) -> bool:
        """Bind the pending task to the execution Signoff started; False if bound to another."""
        return self._table.update(
            _handle(handle),
            "SET execution_id = :eid",
            {":eid": execution_id},
            condition="attribute_exists(pk) AND "
            "(attribute_not_exists(execution_id) OR execution_id = :eid)",
        )

    def handle(self, handle: str) -> TaskHandle | None:
        item = self._table.get(_handle(handle))
        if not item:
            return None
        return TaskHandle(
            member=_membership(item),
            token=Secret(str(item["token"])),
            execution_id=str(item["execution_id"]) if item.get("execution_id") else None,
        )

    def release_handle(self, handle: str) -> None:
        self._table.release(_handle(handle))

    # -- executions ----------------------------------------------------------------------------

    def put_member(self, execution_id: str, member: Membership) -> None:
        """Record which flow and level an approval execution belongs to."""
        item: dict[str, Any] = {
            "pk": f"EXEC#{execution_id}",
            "sk": "FLOW",
            "execution_id": execution_id,
            "flow_id": member.flow_id,
            "level": member.level,
            "levels": member.levels,
            "expires_at": expiry(self._now()),
        }
        if member.handle:
            item["handle"] = member.handle
        self._table.put(item)

    def member(self, execution_id: str) -> Membership | None:
        item = self._table.get(_key(f"EXEC#{execution_id}", "FLOW"))
        return _membership(item) if item else None

    # -- flows -------------------------------------------------------------------------------

    def create_flow(self, flow: FlowItem) -> bool:
        """Create the flow's item; False when it already exists (a later level, or a retry)."""
        item: dict[str, Any] = {
            "pk": f"FLOW#{flow.flow_id}",
            "sk": "FLOW",
            "flow_id": flow.flow_id,
            "levels": flow.levels,
            "channel": flow.channel,
            "name": flow.name,
            "description": flow.description,
            "outcome": flow.outcome.value,
            "version": 0,
            "created_at": self._now().isoformat(),
            "expires_at": expiry(self._now()),
        }
        return self._table.claim(item)

    def flow(self, flow_id: str) -> FlowItem | None:
        item = self._table.get(_flow_key(flow_id))
        return _flow(item) if item else None

    def root_claim(self, flow_id: str) -> ClaimKey:
        """Posting the flow's root message: a mark (`posting_at`) on the flow's own item."""
        return ClaimKey(f"FLOW#{flow_id}", "FLOW")

    def root_claims(self, stale_before: datetime) -> Claims:
        """Root claims; one older than `stale_before` is void, one whose root is recorded holds."""
        return RootPosting(self._table, self._now, stale_before)

    def set_root(self, flow_id: str, ref: CardRef) -> None:
        self._table.update(
            _flow_key(flow_id),
            "SET root_ts = :ts, channel = :channel REMOVE posting_at",
            {":ts": ref.ts, ":channel": ref.channel},
        )

    def set_outcome(self, flow_id: str, outcome: Outcome) -> None:
        self._table.update(
            _flow_key(flow_id),
            "SET outcome = :outcome, expires_at = :exp ADD version :one",
            {":outcome": outcome.value, ":exp": expiry(self._now()), ":one": 1},
        )

    def set_rendered(self, flow_id: str, version: int) -> bool:
        """Record that the root shows `version`; False if a later version was shown meanwhile."""
        return self._table.update(
            _flow_key(flow_id),
            "SET rendered_version = :v",
            {":v": version},
            condition="attribute_exists(pk) AND "
            "(attribute_not_exists(rendered_version) OR rendered_version <= :v)",
        )

    def bump(self, flow_id: str) -> None:
        """Mark the flow as changed, so a render that read an older version renders again."""
        self._table.update(
            _flow_key(flow_id),
            "SET expires_at = :exp ADD version :one",
            {":exp": expiry(self._now()), ":one": 1},
            condition="attribute_exists(pk)",
        )

    # -- levels ------------------------------------------------------------------------------

    def start_level(
        self, flow_id: str, level: int, execution_id: str, needed: int, channel: str
    ) -> bool:
        """Show a level as waiting on a new execution; False if this execution is already known."""
        still_open, _, marks = open_while_waiting(_OPEN_LEVEL, waiting=True)
        return self._table.update(
            _level_key(flow_id, level),
            "SET flow_id = :flow, #level = :level, execution_id = :eid, outcome = :waiting, "
            "#rank = :rank, done = :zero, needed = :needed, approved_by = :none, "
            f"rejected_by = :none, channel = :channel, expires_at = :exp{still_open} "
            "REMOVE pointer_ts",
            {
                **marks,
                ":flow": flow_id,
                ":level": level,
                ":eid": execution_id,
                ":waiting": Outcome.WAITING.value,
                ":rank": -1,
                ":zero": 0,
                ":needed": needed,
                ":none": [],
                ":channel": channel,
                ":exp": expiry(self._now()),
            },
            condition="attribute_not_exists(execution_id) OR execution_id <> :eid",
            names={"#level": "level", "#rank": "rank"},
        )

    def record_level(self, snapshot: LevelItem) -> bool:
        """Store a later state of the level's current execution; False if it is not later."""
        assert snapshot.execution_id is not None
        still_open, closed, marks = open_while_waiting(_OPEN_LEVEL, snapshot.outcome.is_open)
        return self._table.update(
            _level_key(snapshot.flow_id, snapshot.level),
            "SET flow_id = :flow, #level = :level, execution_id = :eid, outcome = :outcome, "
            "#rank = :rank, done = :done, needed = :needed, approved_by = :approved, "
            "rejected_by = :rejected, channel = if_not_exists(channel, :channel), "
            "expires_at = :exp" + still_open + closed,
            {
                **marks,
                ":flow": snapshot.flow_id,
                ":level": snapshot.level,
                ":eid": snapshot.execution_id,
                ":outcome": snapshot.outcome.value,
                ":rank": snapshot.rank,
                ":done": snapshot.done,
                ":needed": snapshot.needed,
                ":approved": list(snapshot.approved_by),
                ":rejected": list(snapshot.rejected_by),
                ":channel": snapshot.channel or "",
                ":exp": expiry(self._now()),
            },
            condition="attribute_not_exists(pk) OR (execution_id = :eid AND #rank < :rank)",
            names={"#level": "level", "#rank": "rank"},
        )

    def set_pointer(self, flow_id: str, level: int, ts: str) -> None:
        self._table.update(_level_key(flow_id, level), "SET pointer_ts = :ts", {":ts": ts})

    def open_levels(self) -> Iterator[LevelItem]:
        """Levels still shown as waiting, for the reconciler to re-check against SSM."""
        items = self._table.open_items(_OPEN_LEVEL)
        yield from (_level(item) for item in items)

    def levels(self, flow_id: str) -> list[LevelItem]:
        items = self._table.query(
            "pk = :pk AND begins_with(sk, :level)", {":pk": f"FLOW#{flow_id}", ":level": "LEVEL#"}
        )
        return sorted((_level(i) for i in items), key=lambda lv: lv.level)

    # -- completing an execution's task, once -------------------------------------------------

    def completion_claim(self, execution_id: str) -> ClaimKey:
        """Telling Step Functions how this execution ended."""
        return ClaimKey(f"EXEC#{execution_id}", "SFN")

    def completion_claims(self, stale_before: datetime) -> Claims:
        """Completion claims; one older than `stale_before` still sending is void."""
        return TakeOver(
            self._table,
            self._now,
            "attribute_not_exists(pk) OR (phase = :sending AND claimed_at < :stale)",
            {":sending": "sending", ":stale": stale_before.isoformat()},
            phase="sending",
        )

    def finish_completion(self, execution_id: str, closed_code: str | None = None) -> None:
        """Sent; or `closed_code` when Step Functions had already stopped waiting."""
        if closed_code is None:
            self._table.update(_completion(execution_id), "SET phase = :p", {":p": "sent"})
            return
        self._table.update(
            _completion(execution_id),
            "SET phase = :p, closed_code = :code",
            {":p": "closed", ":code": closed_code},
        )

    def completion_closed_code(self, execution_id: str) -> str | None:
        item = self._table.get(_completion(execution_id))
        return str(item["closed_code"]) if item and item.get("closed_code") else None

    # -- one-time claims on a flow (its outcome message, a level's pointer) -------------------
    # The sort keys are stored (CLAIM#outcome, CLAIM#pointer#<id>, …): an upgrade must find the
    # claims taken before it, so each name stays byte for byte as it is.

    def outcome_claim(self, flow_id: str) -> ClaimKey:
        """Saying in the thread how the flow ended (or recording how its parent ended)."""
        return _flow_claim(flow_id, "outcome")

    def late_claim(self, flow_id: str, execution_id: str) -> ClaimKey:
        """Saying in the thread that a level's result came after its task had closed."""
        return _flow_claim(flow_id, f"late#{execution_id}")

    def root_recorded_claim(self, flow_id: str, ts: str) -> ClaimKey:
        """Recording the root message at `ts` (by its poster, or whoever found it)."""
        return _flow_claim(flow_id, f"root#{ts}")

    def root_unconfirmed_claim(self, flow_id: str) -> ClaimKey:
        """A mark: a root post went unanswered, so it may be in the channel."""
        return _flow_claim(flow_id, "root-unconfirmed")

    def pointer_claim(self, flow_id: str, execution_id: str) -> ClaimKey:
        """Posting a level's pointer in the level's own channel."""
        return _flow_claim(flow_id, f"pointer#{execution_id}")

    def pointer_closed_claim(self, flow_id: str, execution_id: str) -> ClaimKey:
        """Updating a level's pointer to say how the level ended."""
        return _flow_claim(flow_id, f"pointer-closed#{execution_id}")


def _key(pk: str, sk: str) -> dict[str, str]:
    return {"pk": pk, "sk": sk}


def _flow_claim(flow_id: str, name: str) -> ClaimKey:
    return ClaimKey.of(f"FLOW#{flow_id}", name)


def _task(task_key: str) -> dict[str, str]:
    return _key(f"TASK#{task_key}", "TASK")


def _handle(handle: str) -> dict[str, str]:
    return _key(f"HANDLE#{handle}", "TASK")


def _flow_key(flow_id: str) -> dict[str, str]:
    return _key(f"FLOW#{flow_id}", "FLOW")


def _level_key(flow_id: str, level: int) -> dict[str, str]:
    # Zero-padded so a query returns levels in order.
    return _key(f"FLOW#{flow_id}", f"LEVEL#{level:04d}")


def _completion(execution_id: str) -> dict[str, str]:
    return _key(f"EXEC#{execution_id}", "SFN")


def _strings(raw: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in raw) if isinstance(raw, list | tuple) else ()


def _membership(item: Mapping[str, Any]) -> Membership:
    return Membership(
        flow_id=str(item["flow_id"]),
        level=int(item["level"]),
        levels=int(item["levels"]),
        execution_id=str(item["execution_id"]) if item.get("execution_id") else None,
        handle=str(item["handle"]) if item.get("handle") else None,
    )


def _flow(item: Mapping[str, Any]) -> FlowItem:
    return FlowItem(
        flow_id=str(item["flow_id"]),
        levels=int(item["levels"]),
        channel=str(item["channel"]),
        name=str(item.get("name", "")),
        description=str(item.get("description", "")),
        root_ts=str(item["root_ts"]) if item.get("root_ts") else None,
        outcome=Outcome(item.get("outcome", Outcome.WAITING.value)),
        version=int(item.get("version", 0)),
        rendered=int(item.get("rendered_version", -1)),
    )


def _level(item: Mapping[str, Any]) -> LevelItem:
    return LevelItem(
        flow_id=str(item["flow_id"]),
        level=int(item["level"]),
        execution_id=str(item["execution_id"]) if item.get("execution_id") else None,
        outcome=Outcome(item.get("outcome", Outcome.WAITING.value)),
        rank=int(item.get("rank", -1)),
        done=int(item.get("done", 0)),
        needed=int(item.get("needed", 0)),
        approved_by=_strings(item.get("approved_by")),
        rejected_by=_strings(item.get("rejected_by")),
        channel=str(item["channel"]) if item.get("channel") else None,
        pointer_ts=str(item["pointer_ts"]) if item.get("pointer_ts") else None,
    )
