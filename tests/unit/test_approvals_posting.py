"""ApprovalService posting a card: a post Slack may have taken is adopted, never posted twice."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import msgspec
import pytest
from moto import mock_aws

from bot.approvals import ApprovalService, card_key
from bot.errors import ServiceError, TransientError
from bot.gateways.dynamo import TableAt
from bot.gateways.slack import PostKey, PostUnconfirmed
from bot.gateways.tables import ApprovalStore, AuditLog, IdentityStore
from bot.models import Approval, CardRef, Outcome
from tests.support.dynamo import not_yet_in_the_open_index, signoff_tables
from tests.support.fakes import FakeAutomation, FakePacer, FakeSlack, Message

REGION = "us-east-1"
EXECUTION = "00000000-0000-4000-8000-000000000001"
CHANNEL = "C0APPROVALS"
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
APPROVAL = Approval(
    execution_id=EXECUTION,
    step_name="approve",
    document_name="Signoff-Approval",
    region=REGION,
    outcome=Outcome.WAITING,
    approvers=("arn:aws:iam::123456789012:role/SignoffApprover",),
    min_required=1,
    message="Deploy build 42",
)


@dataclass
class Posting:
    service: ApprovalService
    store: ApprovalStore
    slack: FakeSlack
    clock: list[datetime]
    pacer: FakePacer
    audit: AuditLog
    automation: FakeAutomation
    approvals: TableAt

    def recorded_ts(self) -> str | None:
        card = self.store.card(EXECUTION, "approve")
        return card.ts if card else None

    def notices(self) -> list[str]:
        """The ts of each card the audit's notice_received rows name."""
        rows = self.audit.events(EXECUTION)
        return [row["ts"] for row in rows if row["event"] == "notice_received"]


@pytest.fixture
def posting() -> Iterator[Posting]:
    with mock_aws():
        tables = signoff_tables(boto3.client("dynamodb", region_name=REGION))
        clock = [NOW]

        def now() -> datetime:
            return clock[0]

        slack = FakeSlack()
        pacer = FakePacer(slack)
        automation = FakeAutomation()
        automation.approvals[EXECUTION] = APPROVAL
        store = ApprovalStore(tables["approvals"], now)
        audit = AuditLog(tables["audit"], now)
        service = ApprovalService(
            automation=automation,
            signals=None,  # type: ignore[arg-type]
            store=store,
            identities=IdentityStore(tables["identities"]),
            audit=audit,
            slack=slack,
            route=lambda approval: CHANNEL,
            now=now,
            reminder_before=timedelta(hours=1),
            pacer=pacer,
        )
        yield Posting(service, store, slack, clock, pacer, audit, automation, tables["approvals"])


def test_a_card_waits_for_its_channels_posting_turn_and_reports_its_post(
    posting: Posting,
) -> None:
    posting.service.announce(EXECUTION)
    posting.service.announce(EXECUTION)  # a repeat notice: its claim is lost, so no turn

    assert posting.pacer.events == [("turn", CHANNEL, 0), ("posted", CHANNEL, 1)]
    assert posting.slack.readied == 1, "the token is made ready beside the turn: for a post only"


def test_a_card_is_posted_with_its_execution_as_the_key(posting: Posting) -> None:
    ref = posting.service.announce(EXECUTION)

    [card] = posting.slack.cards()
    assert card.key == card_key(APPROVAL) == PostKey(f"card#{EXECUTION}#approve")
    assert ref == CardRef(CHANNEL, card.ts) and posting.recorded_ts() == card.ts
    assert posting.notices() == [card.ts]
    assert posting.slack.lookups == 0, "a post Slack answered needs no look"


def test_an_unanswered_post_that_landed_is_adopted_by_the_next_attempt(posting: Posting) -> None:
    posting.slack.next_post = "unconfirmed-landed"
    with pytest.raises(PostUnconfirmed):
        posting.service.announce(EXECUTION)
    assert posting.recorded_ts() is None

    ref = posting.service.announce(EXECUTION)  # the retry, a click or the reconciler

    [card] = posting.slack.cards()
    assert ref == CardRef(CHANNEL, card.ts) and posting.recorded_ts() == card.ts
    assert posting.slack.posts == 1, "the card once"
    assert posting.slack.threaded() == []
    assert posting.service.announce(EXECUTION) is None
    assert len(posting.slack.cards()) == 1


def test_an_unanswered_post_not_in_slack_yet_is_left_alone_until_its_claim_is_stale(
    posting: Posting,
) -> None:
    posting.slack.next_post = "unconfirmed-lost"
    with pytest.raises(PostUnconfirmed):
        posting.service.announce(EXECUTION)

    # The request may still land: looking finds nothing, and nothing is posted.
    assert posting.service.announce(EXECUTION) is None
    assert posting.slack.lookups == 1 and posting.slack.cards() == []

    posting.clock[0] = NOW + timedelta(minutes=6)
    assert posting.service.reconcile()["posted"] == 1
    assert len(posting.slack.cards()) == 1 and posting.recorded_ts() == posting.slack.cards()[0].ts
    assert posting.slack.lookups == 2, "looked once more before posting again"


def test_a_lookup_slack_refuses_posts_nothing_and_a_later_one_adopts(posting: Posting) -> None:
    posting.slack.next_post = "unconfirmed-landed"
    with pytest.raises(PostUnconfirmed):
        posting.service.announce(EXECUTION)
    posting.slack.lookup_fails = True

    with pytest.raises(ServiceError, match="missing_scope"):
        posting.service.announce(EXECUTION)
    posting.clock[0] = NOW + timedelta(minutes=30)
    assert posting.service.reconcile()["posted"] == 0, "the reconciler logs it and tries later"
    assert len(posting.slack.cards()) == 1

    posting.slack.lookup_fails = False
    assert posting.service.reconcile()["posted"] == 1
    assert len(posting.slack.cards()) == 1 and posting.recorded_ts() == posting.slack.cards()[0].ts


def test_a_poster_still_at_work_is_not_second_guessed(posting: Posting) -> None:
    # A fresh claim with no post marked unanswered: its poster is still waiting for Slack.
    assert posting.store.claim_card(EXECUTION, "approve", CHANNEL)

    assert posting.service.announce(EXECUTION) is None
    assert posting.slack.lookups == 0 and posting.slack.posts == 0


def test_a_dead_posters_card_found_in_slack_is_adopted_not_reposted(posting: Posting) -> None:
    # The poster died between Slack's answer and recording it: no mark, the claim goes stale.
    assert posting.store.claim_card(EXECUTION, "approve", CHANNEL)
    posting.slack.messages.append(
        Message(CHANNEL, "1699999999.000001", "card", [], key=card_key(APPROVAL))
    )
    posting.clock[0] = NOW + timedelta(minutes=6)

    assert posting.service.reconcile()["posted"] == 1

    assert len(posting.slack.cards()) == 1 and posting.recorded_ts() == "1699999999.000001"
    assert posting.slack.posts == 0, "adopted: nothing posted again"
    assert posting.notices() == ["1699999999.000001"], "the adopted card's row, written now"


def test_a_card_whose_record_failed_is_adopted_and_its_audit_row_is_not_written_twice(
    posting: Posting, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The card's record and its audit row are written side by side: the record can fail after
    # the row is in.
    def record_fails(*args: Any, **kwargs: Any) -> None:
        raise TransientError("DynamoDB throttled the write to signoff-approvals")

    monkeypatch.setattr(posting.store, "card_posted", record_fails)
    with pytest.raises(TransientError, match="throttled"):
        posting.service.announce(EXECUTION)
    [card] = posting.slack.cards()
    assert posting.recorded_ts() is None and posting.notices() == [card.ts]
    monkeypatch.undo()

    posting.clock[0] = NOW + timedelta(minutes=6)  # the claim is stale: the reconciler looks
    assert posting.service.reconcile()["posted"] == 1

    assert posting.recorded_ts() == card.ts and posting.slack.posts == 1
    assert posting.notices() == [card.ts], "one row for the one card"


def test_a_post_slack_refused_releases_the_claim_so_a_retry_posts(posting: Posting) -> None:
    posting.slack.next_post = "refused"
    with pytest.raises(ServiceError) as refused:
        posting.service.announce(EXECUTION)
    assert not isinstance(refused.value, TransientError)

    assert posting.service.announce(EXECUTION) is not None
    assert len(posting.slack.cards()) == 1 and posting.slack.lookups == 0


def test_a_failed_read_of_open_cards_still_lets_the_reconciler_post_missing_cards(
    posting: Posting, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The two reads run side by side; the scan's failure must not cost the missing card.
    def read_fails() -> Any:
        raise ServiceError("DynamoDB throttled the query of signoff-approvals")

    monkeypatch.setattr(posting.store, "open_cards", read_fails)

    with pytest.raises(ServiceError, match="throttled the query"):
        posting.service.reconcile()

    assert len(posting.slack.cards()) == 1 and posting.recorded_ts() is not None


def spy_card_reads(posting: Posting, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the store's per-execution card reads made from now on."""
    reads: list[str] = []
    for name in ("cards", "card"):
        read = getattr(posting.store, name)

        def spied(*args: Any, _read: Any = read, _name: str = name) -> Any:
            reads.append(_name)
            return _read(*args)

        monkeypatch.setattr(posting.store, name, spied)
    return reads


def test_the_reconciler_reminds_from_the_open_index_without_reading_the_card_again(
    posting: Posting, monkeypatch: pytest.MonkeyPatch
) -> None:
    posting.service.announce(EXECUTION)
    soon = NOW + timedelta(minutes=30)
    posting.automation.approvals[EXECUTION] = msgspec.structs.replace(APPROVAL, timeout_at=soon)
    reads = spy_card_reads(posting, monkeypatch)

    assert posting.service.reconcile() == {"posted": 0, "synced": 0, "reminded": 1}

    assert reads == [], "the Open index's copy of the card was enough"
    assert len(posting.slack.threaded()) == 1 and posting.slack.posts == 2


def test_a_card_the_open_index_lacks_is_read_from_the_table_and_not_posted_again(
    posting: Posting, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A card written a moment ago that the eventually consistent index does not show yet.
    posting.service.announce(EXECUTION)
    not_yet_in_the_open_index(posting.approvals, f"EXEC#{EXECUTION}", "CARD#approve")
    posting.automation.approvals[EXECUTION] = msgspec.structs.replace(
        APPROVAL, timeout_at=NOW + timedelta(minutes=30)
    )
    reads = spy_card_reads(posting, monkeypatch)

    assert posting.service.reconcile() == {"posted": 0, "synced": 0, "reminded": 1}

    assert reads == ["cards"]
    assert posting.slack.posts == 2, "the card (found in the table, not posted again), the reminder"
    assert len(posting.slack.threaded()) == 1
