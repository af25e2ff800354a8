"""HomeService: who sees which approval, what a Home lists, and whose Home a change republishes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import msgspec
import pytest
from moto import mock_aws

from bot.access_key_models import KeyRequest
from bot.gateways.dynamo import TableAt
from bot.gateways.key_requests import KeyRequestRecords
from bot.gateways.tables import ApprovalStore, AuditLog, IdentityStore
from bot.home import HomeService
from bot.models import Approval, CardRef, Decision, Identity, MappedAs, Outcome, Verdict
from tests.support.dynamo import signoff_tables
from tests.support.fakes import FakeAutomation, FakeHomeTabs

ACCT = "123456789012"
ROLE = f"arn:aws:iam::{ACCT}:role/SignoffApprover"
OTHER = f"arn:aws:iam::{ACCT}:role/SomeoneElse"
ALICE_SESSION = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0ALICE"
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


def execution(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@dataclass
class Home:
    service: HomeService
    automation: FakeAutomation
    slack: FakeHomeTabs
    store: ApprovalStore
    identities: IdentityStore
    audit: AuditLog
    records: KeyRequestRecords
    clock: list[datetime]
    approvals: TableAt

    def waiting(
        self,
        n: int,
        *,
        approvers: tuple[str, ...] = (ROLE,),
        decisions: tuple[Decision, ...] = (),
        requester: str | None = None,
        outcome: Outcome = Outcome.WAITING,
        message: str = "",
        kept: bool = True,
    ) -> Approval:
        """An approval in SSM with its card posted at the clock's time. The card's row keeps
        the approval, as every row written since `seen` was; not `kept`, it is a row from
        before that, whose approval the Home reads from SSM."""
        approval = Approval(
            execution_id=execution(n),
            step_name="approve",
            document_name="Signoff-Approval",
            region="us-east-1",
            outcome=outcome,
            approvers=approvers,
            min_required=1,
            message=message or f"change {n}",
            decisions=decisions,
            parameters={"RequesterSlackId": (requester,)} if requester else {},
        )
        self.automation.approvals[approval.execution_id] = approval
        self.store.claim_card(approval.execution_id, "approve", "C0APPROVALS")
        self.store.card_posted(approval, CardRef("C0APPROVALS", f"{n}.0"))
        if not kept:
            self.approvals.client.update_item(
                TableName=self.approvals.name,
                Key={"pk": {"S": f"EXEC#{approval.execution_id}"}, "sk": {"S": "CARD#approve"}},
                UpdateExpression="REMOVE seen",
            )
        self.clock[0] += timedelta(minutes=1)
        return approval

    def map(self, user: str, role: str | None = ROLE, iam_user: str | None = None) -> None:
        self.identities.put(Identity(user, user.lower(), role_arn=role, iam_user=iam_user))


@pytest.fixture
def home() -> Iterator[Home]:
    with mock_aws():
        tables = signoff_tables(boto3.client("dynamodb", region_name="us-east-1"))
        clock = [NOW]

        def now() -> datetime:
            return clock[0]

        automation, slack = FakeAutomation(), FakeHomeTabs()
        store = ApprovalStore(tables["approvals"], now)
        identities = IdentityStore(tables["identities"])
        audit = AuditLog(tables["audit"], now)
        records = KeyRequestRecords(tables["approvals"], now)
        service = HomeService(
            identities=identities,
            store=store,
            automation=automation,
            audit=audit,
            records=records,
            slack=slack,
            now=now,
        )
        yield Home(
            service,
            automation,
            slack,
            store,
            identities,
            audit,
            records,
            clock,
            tables["approvals"],
        )


def test_a_card_that_keeps_its_approval_is_listed_without_asking_ssm(home: Home) -> None:
    home.map("U0ALICE")
    kept = home.waiting(1, message="kept with its card")
    home.waiting(2, message="read from SSM", kept=False)
    # SSM no longer answers for the first: only its card's row can list it.
    del home.automation.approvals[kept.execution_id]

    state = home.service.publish("U0ALICE")

    assert [w.approval.message for w in state.waiting] == ["read from SSM", "kept with its card"]


def test_waiting_lists_what_the_person_may_decide_newest_first(home: Home) -> None:
    home.map("U0ALICE")
    home.waiting(1)
    home.waiting(2, approvers=(OTHER,))  # not her role
    home.waiting(3, decisions=(Decision(ALICE_SESSION, Verdict.APPROVE, NOW),))  # she decided
    home.waiting(4, requester="U0ALICE")  # her own request: someone else approves it
    home.waiting(5, outcome=Outcome.APPROVED)  # closed
    home.waiting(6, approvers=(ALICE_SESSION,))  # her exact session

    state = home.service.publish("U0ALICE")

    assert [w.approval.execution_id for w in state.waiting] == [execution(6), execution(1)]
    assert state.waiting_total == 2
    assert state.waiting[0].card == CardRef("C0APPROVALS", "6.0")
    assert "change 6" in home.slack.text("U0ALICE")


def test_a_card_ssm_has_since_closed_is_left_off_even_if_the_index_still_has_it(
    home: Home,
) -> None:
    home.map("U0ALICE")
    approval = home.waiting(1, kept=False)  # a row the Home reads SSM for
    home.automation.decide(approval.execution_id, Outcome.REJECTED)

    assert home.service.publish("U0ALICE").waiting == ()


def test_an_approval_ssm_cannot_read_is_left_off_and_the_rest_still_show(home: Home) -> None:
    home.map("U0ALICE")
    home.waiting(1, kept=False)
    gone = home.waiting(2, kept=False)
    del home.automation.approvals[gone.execution_id]

    state = home.service.publish("U0ALICE")

    assert [w.approval.execution_id for w in state.waiting] == [execution(1)]


@pytest.mark.parametrize(
    ("role", "iam_user", "mapped"),
    [(None, None, None), (None, "dave", MappedAs.IAM_USER_ONLY), (ROLE, None, MappedAs.APPROVER)],
    ids=["unmapped", "iam-user-only", "approver"],
)
def test_the_home_says_how_the_person_is_mapped(
    home: Home, role: str | None, iam_user: str | None, mapped: MappedAs | None
) -> None:
    home.waiting(1)
    if role or iam_user:
        home.map("U0DAVE", role, iam_user)

    state = home.service.publish("U0DAVE")

    assert state.mapping is (mapped or MappedAs.NONE)
    assert len(state.waiting) == (1 if role else 0)


def test_a_mapping_made_after_a_first_look_shows_at_once(home: Home) -> None:
    home.waiting(1)
    assert home.service.publish("U0ALICE").mapping is MappedAs.NONE

    home.map("U0ALICE")

    assert len(home.service.publish("U0ALICE").waiting) == 1


def test_your_requests_list_the_persons_key_requests_with_their_state(home: Home) -> None:
    home.records.record("r1", KeyRequest("U0DAVE", "dave", "CI deploys"))
    home.clock[0] += timedelta(minutes=1)
    home.records.record("r2", KeyRequest("U0DAVE", "dave", "laptop"))
    home.records.bind("r2", execution(7))
    home.waiting(7, outcome=Outcome.APPROVED)
    home.records.record("r3", KeyRequest("U0ERIN", "erin", "not dave's"))

    state = home.service.publish("U0DAVE")

    assert [(r.reason, r.state) for r in state.requests] == [
        ("laptop", Outcome.APPROVED),
        ("CI deploys", None),
    ]


def test_recently_decided_lists_the_persons_decisions_from_slack_newest_first(
    home: Home,
) -> None:
    for n, verdict in enumerate([Verdict.APPROVE, Verdict.REJECT], start=1):
        home.audit.append(
            execution(n),
            "decision",
            step="approve",
            slack_user="U0ALICE",
            principal=ALICE_SESSION,
            verdict=verdict.value,
            comment=f"comment {n}",
        )
        home.clock[0] += timedelta(minutes=1)
    home.audit.append("identities", "user_mapped", slack_user="U0ALICE", role_arn=ROLE)
    home.audit.append(execution(3), "decision", slack_user="U0BOB", verdict="Approve")

    state = home.service.publish("U0ALICE")

    assert [(d.execution_id, d.verdict, d.comment) for d in state.decided] == [
        (execution(2), Verdict.REJECT, "comment 2"),
        (execution(1), Verdict.APPROVE, "comment 1"),
    ]


def test_a_change_republishes_approvers_deciders_and_the_requester_only(home: Home) -> None:
    home.map("U0ALICE")
    home.map("U0BOB")
    home.map("U0CAROL", role=OTHER)
    home.map("U0DAVE", role=None, iam_user="dave")
    carol = f"arn:aws:sts::{ACCT}:assumed-role/SomeoneElse/U0CAROL"
    approval = home.waiting(1, requester="U0DAVE")
    approval = msgspec.structs.replace(approval, decisions=(Decision(carol, Verdict.APPROVE, NOW),))

    home.service.approval_changed(approval)

    # Alice and Bob may decide, Carol decided (through a session Signoff opened for her), Dave
    # asked; nobody else is published to.
    assert sorted(home.slack.published) == ["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"]


def test_one_refused_publish_leaves_the_others_current(home: Home) -> None:
    home.map("U0ALICE")
    home.map("U0BOB")
    approval = home.waiting(1)
    home.slack.refuse = {"U0ALICE"}

    home.service.approval_changed(approval)

    assert home.slack.published == ["U0BOB"]
