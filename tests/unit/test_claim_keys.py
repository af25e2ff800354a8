"""The claim keys stores build are stored: each is pinned here, byte for byte, so an upgrade
finds the claims (a decision on its way, a thread line told, a DM sent) taken before it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.gateways.claims import ClaimKey
from bot.gateways.dynamo import DynamoTable, TableAt
from bot.gateways.key_requests import KeyRequestRecords
from bot.gateways.slack import PostKey, reply_key
from bot.gateways.tables import ApprovalStore, CardItem
from bot.models import Outcome

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EXEC = "00000000-0000-4000-8000-000000000001"
ALICE = "arn:aws:sts::123456789012:assumed-role/Approver/U0ALICE"
CARD = CardItem(
    execution_id=EXEC,
    step_name="approve",
    channel="C0APPROVALS",
    ts=None,
    rank=-1,
    outcome=Outcome.WAITING,
    created_at=datetime(2026, 11, 23, 11, 58, 30, 123456, tzinfo=UTC),
)

# (how the key is built, the pk and sk it has been stored under since before the ClaimKey)
PINNED = {
    "card": (
        lambda s: s.card_claim(EXEC, "approve"),
        f"EXEC#{EXEC}",
        "CARD#approve",
    ),
    "decision": (
        lambda s: s.decision_claim(EXEC, "approve", ALICE),
        f"EXEC#{EXEC}",
        f"CLAIM#decision#approve#{ALICE}",
    ),
    "announced": (
        lambda s: s.announced_claim(EXEC, "approve", ALICE),
        f"EXEC#{EXEC}",
        f"CLAIM#announced#approve#{ALICE}",
    ),
    "outcome": (
        lambda s: s.outcome_claim(EXEC, "approve"),
        f"EXEC#{EXEC}",
        "CLAIM#outcome#approve",
    ),
    "reminder": (
        lambda s: s.reminder_claim(EXEC, "approve"),
        f"EXEC#{EXEC}",
        "CLAIM#reminder#approve",
    ),
    "unconfirmed": (
        lambda s: s.unconfirmed_claim(CARD),
        f"EXEC#{EXEC}",
        "CLAIM#unconfirmed#approve#2026-11-23T11:58:30.123456+00:00",
    ),
    "takeover": (
        lambda s: s.takeover_claim(CARD),
        f"EXEC#{EXEC}",
        "CLAIM#takeover#approve#2026-11-23T11:58:30.123456+00:00",
    ),
    "key dm": (lambda s: s.key_outcome_dm_claim(EXEC), f"EXEC#{EXEC}", "CLAIM#key-outcome#dm"),
    "key thread": (
        lambda s: s.key_outcome_thread_claim(EXEC),
        f"EXEC#{EXEC}",
        "CLAIM#key-outcome#thread",
    ),
    "key card": (
        lambda s: s.key_outcome_card_claim(EXEC),
        f"EXEC#{EXEC}",
        "CLAIM#key-outcome#card",
    ),
    "key told": (
        lambda s: s.key_outcome_told_claim(EXEC),
        f"EXEC#{EXEC}",
        "CLAIM#key-outcome#done",
    ),
}


@pytest.fixture
def store(table: TableAt) -> ApprovalStore:
    return ApprovalStore(table, lambda: NOW)


@pytest.mark.parametrize("name", PINNED)
def test_each_approval_claim_key_is_the_one_stored_before(name: str, store: ApprovalStore) -> None:
    build, pk, sk = PINNED[name]
    assert build(store) == ClaimKey(pk, sk)


@pytest.mark.parametrize("name", [n for n in PINNED if n != "card"])
def test_a_claim_taken_before_an_upgrade_is_found_after_it(
    name: str, store: ApprovalStore, table: TableAt
) -> None:
    build, pk, sk = PINNED[name]
    # As the previous release wrote it, straight to the table.
    DynamoTable(table, "approvals").put({"pk": pk, "sk": sk, "claimed_at": NOW.isoformat()})

    assert store.claims.held(build(store))
    assert not store.claims.take(build(store)), "the work it guards happened: not again"


def test_the_key_request_start_claim_is_the_one_stored_before(table: TableAt) -> None:
    records = KeyRequestRecords(table, lambda: NOW)
    key = records.start_claim("dave", datetime(2026, 11, 23, 12, 7, 59, tzinfo=UTC))
    assert key == ClaimKey("EXEC#key-request:dave", "CLAIM#start#20261123T1207")


def test_thread_lines_keep_their_slack_keys(store: ApprovalStore) -> None:
    # A reply is known in Slack by its claim's name: a line posted before an upgrade is found.
    lines = {
        reply_key(EXEC, store.outcome_claim(EXEC, "approve").name): "outcome#approve",
        reply_key(EXEC, store.reminder_claim(EXEC, "approve").name): "reminder#approve",
        reply_key(EXEC, store.announced_claim(EXEC, "approve", ALICE).name): (
            f"announced#approve#{ALICE}"
        ),
        reply_key(EXEC, store.key_outcome_thread_claim(EXEC).name): "key-outcome#thread",
    }
    for key, name in lines.items():
        assert key == PostKey(f"reply#{EXEC}#{name}")
