"""DynamoDB I/O: approval cards and exactly-once claims, identities, the append-only audit trail."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec

from bot.gateways.claims import ClaimKey, ClaimTable
from bot.gateways.dynamo import (
    OPEN_KIND,
    PERSON_INDEX,
    Clock,
    DynamoTable,
    TableAt,
    expiry,
    open_while_waiting,
)
from bot.models import Approval, CardRef, Identity, Outcome

# A card's kind in the approvals table's Open index.
_OPEN_CARD = "CARD"
# Of an execution's parameters, what a card's row keeps with the approval it shows (`seen`):
# the requester, whom the Home's rule needs. The rest (a flow's handle among them) stays in SSM.
_SEEN_PARAMETERS = frozenset({"RequesterSlackId"})


class CardItem(msgspec.Struct, frozen=True):
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
    # The approval as the card last showed it, so a Home tab lists open approvals without
    # reading SSM; None on a row written before it was kept, or unreadable (read SSM then).
    seen: Approval | None = None

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
    conditional put that only the first caller wins. Its key comes from a method here
    (`decision_claim`, `reminder_claim`, ...); `claims` takes it and gives it back.
    """

    def __init__(self, table: TableAt, now: Clock) -> None:
        self._table = DynamoTable(table, "approvals")
        self._now = now
        self.claims = ClaimTable(self._table, now)

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
            OPEN_KIND: _OPEN_CARD,
            "created_at": self._now().isoformat(),
            "expires_at": expiry(self._now()),
            **{k: v for k, v in extra.items() if v is not None},
        }
        return self._table.claim(item)

    def set_card_ts(self, execution_id: str, step_name: str, ref: CardRef) -> None:
        self._table.update(
            _key(execution_id, f"CARD#{step_name}"),
            "SET ts = :ts, channel = :channel",
            {":ts": ref.ts, ":channel": ref.channel},
        )

    def card_posted(self, approval: Approval, ref: CardRef) -> None:
        """Where the card is and what it shows, in one write (`raise_rank` with the ts); the ts
        alone if the card already shows this state or a later one."""
        if not self.raise_rank(approval, at=ref):
            self.set_card_ts(approval.execution_id, approval.step_name, ref)

    def release_card(self, execution_id: str, step_name: str) -> None:
        """Give up a claim whose post failed, so a retry (or the reconciler) can post again."""
        self.claims.release(self.card_claim(execution_id, step_name))

    def card(self, execution_id: str, step_name: str) -> CardItem | None:
        item = self._table.get(_key(execution_id, f"CARD#{step_name}"))
        return _card(item) if item else None

    def cards(self, execution_id: str) -> list[CardItem]:
        items = self._table.query(
            "pk = :pk AND begins_with(sk, :card)", {":pk": _pk(execution_id), ":card": "CARD#"}
        )
        return [_card(item) for item in items]

    def open_cards(self) -> Iterator[CardItem]:
        """Cards still showing Waiting (for the reconciler to re-check against SSM)."""
        items = self._table.open_items(_OPEN_CARD)
        yield from (_card(item) for item in items)

    def raise_rank(
        self, approval: Approval, *, rank: int | None = None, at: CardRef | None = None
    ) -> bool:
        """Record that the card now shows `approval`: its state, at `rank` (the approval's own
        unless told), the approval itself (`seen`, for the Home tab) and, `at`, where the card
        is. False if it already shows this state or a later one."""
        rank = approval.rank if rank is None else rank
        outcome = approval.outcome
        kept = {k: v for k, v in approval.parameters.items() if k in _SEEN_PARAMETERS}
        seen = msgspec.json.encode(msgspec.structs.replace(approval, parameters=kept)).decode()
        still_open, closed, marks = open_while_waiting(_OPEN_CARD, outcome.is_open)
        values: dict[str, Any] = {
            ":rank": rank,
            ":outcome": outcome.value,
            ":seen": seen,
            **marks,
        }
        expression = "SET #rank = :rank, outcome = :outcome, seen = :seen" + still_open
        if at is not None:
            values.update({":ts": at.ts, ":channel": at.channel})
            expression += ", ts = :ts, channel = :channel"
        return self._table.update(
            _key(approval.execution_id, f"CARD#{approval.step_name}"),
            expression + closed,
            values,
            condition="attribute_exists(pk) AND #rank < :rank",
            names={"#rank": "rank"},
        )

    def lower_rank(
        self, execution_id: str, step_name: str, rank: int, back_to: int, outcome: Outcome
    ) -> None:
        """Undo `raise_rank(rank)` when Slack never showed that state (unless a later one came)."""
        still_open, closed, marks = open_while_waiting(_OPEN_CARD, outcome.is_open)
        self._table.update(
            _key(execution_id, f"CARD#{step_name}"),
            "SET #rank = :back, outcome = :outcome" + still_open + closed,
            {":rank": rank, ":back": back_to, ":outcome": outcome.value, **marks},
            condition="#rank = :rank",
            names={"#rank": "rank"},
        )

    # -- claims: each key built here, by name, so no two callers can spell one differently --
    # The names are stored: changing one makes a claim taken before an upgrade invisible after
    # it (tests/unit/test_claim_keys.py pins each).

    def card_claim(self, execution_id: str, step_name: str) -> ClaimKey:
        """The card item itself: whoever puts it (`claim_card`) posts the card."""
        return ClaimKey(_pk(execution_id), f"CARD#{step_name}")

    def decision_claim(self, execution_id: str, step_name: str, principal: str) -> ClaimKey:
        """A decision sent from Slack as `principal`."""
        return ClaimKey.of(_pk(execution_id), f"decision#{step_name}#{principal}")

    def announced_claim(self, execution_id: str, step_name: str, principal: str) -> ClaimKey:
        """The thread's line (and audit row) for `principal`'s decision."""
        return ClaimKey.of(_pk(execution_id), f"announced#{step_name}#{principal}")

    def outcome_claim(self, execution_id: str, step_name: str) -> ClaimKey:
        """The thread's line (and audit row) for how the step ended."""
        return ClaimKey.of(_pk(execution_id), f"outcome#{step_name}")

    def reminder_claim(self, execution_id: str, step_name: str) -> ClaimKey:
        """The one reminder a waiting step gets."""
        return ClaimKey.of(_pk(execution_id), f"reminder#{step_name}")

    def unconfirmed_claim(self, card: CardItem) -> ClaimKey:
        """Set when the card's post went unanswered: the next look searches Slack at once."""
        return ClaimKey.of(_pk(card.execution_id), f"unconfirmed#{_card_claim_id(card)}")

    def takeover_claim(self, card: CardItem) -> ClaimKey:
        """One looker per card claim, so a card found in Slack is recorded once."""
        return ClaimKey.of(_pk(card.execution_id), f"takeover#{_card_claim_id(card)}")

    def key_outcome_dm_claim(self, execution_id: str) -> ClaimKey:
        """The requester's DM about how their key request ended."""
        return ClaimKey.of(_pk(execution_id), "key-outcome#dm")

    def key_outcome_thread_claim(self, execution_id: str) -> ClaimKey:
        """The card thread's line about how a key request ended."""
        return ClaimKey.of(_pk(execution_id), "key-outcome#thread")

    def key_outcome_card_claim(self, execution_id: str) -> ClaimKey:
        """The card's update saying an approved key was not issued."""
        return ClaimKey.of(_pk(execution_id), "key-outcome#card")

    def key_outcome_told_claim(self, execution_id: str) -> ClaimKey:
        """Every part of a key request's outcome told: the reconciler passes it by."""
        return ClaimKey.of(_pk(execution_id), "key-outcome#done")


class IdentityStore:
    """Identities table: Slack user id → the IAM role they act through (and IAM user they are).

    A warm function remembers the mappings it found, for callers that accept one a little old
    (`max_age`); the ones it did not find are read again every time, so a new mapping is never
    missed. A caller about to refuse someone reads with `consistent=True`: an eventually
    consistent read may not yet see a mapping written a moment ago.
    """

    def __init__(self, table: TableAt, clock: Callable[[], float] = time.monotonic) -> None:
        self._table = DynamoTable(table, "identities")
        self._clock = clock
        self._found: dict[str, tuple[float, Identity]] = {}
        self._everyone: tuple[float, list[Identity]] | None = None

    def get(
        self, slack_user_id: str, *, max_age: float = 0.0, consistent: bool = False
    ) -> Identity | None:
        """The user's mapping as the table has it; with `max_age` (seconds), one this process
        read at most that long ago may stand in for the read."""
        if max_age > 0:
            found = self._found.get(slack_user_id)
            if found is not None and self._clock() - found[0] <= max_age:
                return found[1]
        read_at = self._clock()
        item = self._table.get({"slack_user_id": slack_user_id}, consistent=consistent)
        if not item:
            self._found.pop(slack_user_id, None)
            return None
        identity = _identity(item)
        self._found[slack_user_id] = (read_at, identity)
        return identity

    def put(self, identity: Identity) -> None:
        self._found.pop(identity.slack_user_id, None)
        self._everyone = None
        item = {
            "slack_user_id": identity.slack_user_id,
            "display_name": identity.display_name,
            "role_arn": identity.role_arn,
            "iam_user": identity.iam_user,
        }
        self._table.put({k: v for k, v in item.items() if v})

    def delete(self, slack_user_id: str) -> bool:
        self._found.pop(slack_user_id, None)
        self._everyone = None
        return self._table.delete({"slack_user_id": slack_user_id})

    def all(self) -> list[Identity]:
        return sorted((_identity(i) for i in self._table.scan()), key=lambda i: i.display_name)

    def everyone(self, *, max_age: float) -> list[Identity]:
        """`all()` for display: one scan this process made at most `max_age` seconds ago
        stands in, so a reconcile pass over many cards reads the (small) table once.

        A scan and not a query: who holds a role is the reverse of the table's key, and the
        table is one item per person. Never for a decision: `get` is.
        """
        if self._everyone is not None and self._clock() - self._everyone[0] <= max_age:
            return self._everyone[1]
        read_at = self._clock()
        everyone = self.all()
        self._everyone = (read_at, everyone)
        return everyone


class AuditLog:
    """Audit table: append-only events, pk = flow or execution id, sk = time#unique suffix."""

    def __init__(self, table: TableAt, now: Clock) -> None:
        self._table = DynamoTable(table, "audit")
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
        # Never overwrite: an audit row, once written, stays as written.
        self._table.put(item, condition="attribute_not_exists(sk)")

    def events(self, subject: str) -> list[dict[str, Any]]:
        return self._table.query("pk = :pk", {":pk": subject})

    def has(self, subject: str, event: str, **fields: Any) -> bool:
        """Whether `subject` has an `event` row holding each of `fields`."""
        return any(
            row.get("event") == event and all(row.get(k) == v for k, v in fields.items())
            for row in self.events(subject)
        )

    def decided_by(self, slack_user_id: str, limit: int) -> list[dict[str, Any]]:
        """The person's latest decisions sent from Slack, newest first (the Person index).

        Read a few times `limit`: the index also holds their other rows (mapped, unmapped)."""
        rows = self._table.latest(PERSON_INDEX, "slack_user", slack_user_id, limit * 4)
        return [row for row in rows if row.get("event") == "decision"][:limit]

    def since(self, start: datetime) -> list[dict[str, Any]]:
        """Every event at or after `start`, oldest first."""
        rows = self._table.scan("#at >= :start", {":start": start.isoformat()}, {"#at": "at"})
        return sorted(rows, key=lambda r: (str(r["at"]), str(r["sk"])))


def _pk(execution_id: str) -> str:
    return f"EXEC#{execution_id}"


def _key(execution_id: str, sk: str) -> dict[str, str]:
    return {"pk": _pk(execution_id), "sk": sk}


def _card_claim_id(card: CardItem) -> str:
    # A card claim is identified by when it was taken: a re-post takes a new one.
    return f"{card.step_name}#{card.created_at.isoformat()}"


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
        seen=_seen(item.get("seen")),
    )


def _seen(value: object) -> Approval | None:
    if isinstance(value, str):
        try:
            return msgspec.json.decode(value, type=Approval)
        except msgspec.DecodeError:  # written by another version: SSM is read instead
            return None
    return None


def _identity(item: Mapping[str, Any]) -> Identity:
    return Identity(
        slack_user_id=str(item["slack_user_id"]),
        display_name=str(item.get("display_name") or item["slack_user_id"]),
        role_arn=str(item["role_arn"]) if item.get("role_arn") else None,
        iam_user=str(item["iam_user"]) if item.get("iam_user") else None,
    )


# Slack refuses a signature older than 5 minutes (Bolt's verifier too): a request seen longer
# ago than that cannot come back signed, so its record may go. Kept twice as long for clock skew
# between Slack, Lambda and DynamoDB's TTL sweep (which deletes late, never early).
SLACK_REQUEST_MEMORY = timedelta(minutes=10)


class SlackRequestLog:
    """The Slack requests Signoff has acted on, by signature, in the approvals table.

    A signature covers a request's timestamp and whole body, so it names one request: the same
    signature again is a replay. Each item is `pk = slack-request#<signature>`, with the lazy
    functions that have run for it, and a TTL just past Slack's 5-minute window.
    """

    def __init__(self, table: TableAt, now: Clock) -> None:
        self._table = DynamoTable(table, "approvals")
        self._now = now

    def first_time(self, signature: str) -> bool:
        """Record an acknowledged request; False when it was recorded before (a replay)."""
        return self._table.claim(
            {
                **self._key(signature),
                "expires_at": int((self._now() + SLACK_REQUEST_MEMORY).timestamp()),
            }
        )

    def claim_lazy(self, signature: str, function: str) -> bool:
        """Let one lazy function run once for a request this function acknowledged; False for
        a request never acknowledged here, or a function that has already run for it."""
        return self._table.update(
            self._key(signature),
            "ADD lazy_run :function",
            {":function": frozenset({function}), ":name": function},
            condition="attribute_exists(pk) AND NOT contains(lazy_run, :name)",
        )

    @staticmethod
    def _key(signature: str) -> dict[str, str]:
        return {"pk": f"slack-request#{signature}", "sk": "request"}
