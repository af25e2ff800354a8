"""Who may decide, as people: each `Approvers` entry resolved to the Slack users mapped to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from bot.approvals import ApprovalService, approver_people
from bot.gateways.dynamo import TableAt
from bot.gateways.tables import ApprovalStore, AuditLog, IdentityStore
from bot.models import Approval, Identity, Outcome
from tests.support.dynamo import signoff_tables
from tests.support.fakes import FakeAutomation, FakePacer, FakeSlack

ACCT = "123456789012"
REGION = "us-east-1"
EXECUTION = "00000000-0000-4000-8000-000000000007"
LEVEL_1 = f"arn:aws:iam::{ACCT}:role/Level1Approvers"
LEVEL_2 = f"arn:aws:iam::{ACCT}:role/Level2Approvers"
NOBODYS = f"arn:aws:iam::{ACCT}:role/Nobody"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/Other/some-session"
APPROVAL = Approval(
    execution_id=EXECUTION,
    step_name="approve",
    document_name="Signoff-Approval",
    region=REGION,
    outcome=Outcome.WAITING,
    approvers=(LEVEL_1, NOBODYS, "ci-bot", SESSION),
    min_required=1,
    message="Deploy build 42",
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tables() -> Iterator[dict[str, TableAt]]:
    with mock_aws():
        yield signoff_tables(boto3.client("dynamodb", region_name=REGION))


def mapped(store: IdentityStore) -> None:
    store.put(Identity("U0ALICE", "alice", role_arn=LEVEL_1))
    store.put(Identity("U0BOB", "bob", role_arn=LEVEL_1))
    store.put(Identity("U0CAROL", "carol", role_arn=LEVEL_2))
    store.put(Identity("U0DAVE", "dave", iam_user="ci-bot"))  # no role: cannot decide here


def test_each_approver_entry_resolves_to_the_people_mapped_to_it(
    tables: dict[str, TableAt],
) -> None:
    store = IdentityStore(tables["identities"])
    mapped(store)

    people = approver_people(store, APPROVAL)

    assert people == {LEVEL_1: ("U0ALICE", "U0BOB")}, "unmapped principals are left as they are"


def test_one_read_of_the_table_serves_every_card_in_a_minute(tables: dict[str, TableAt]) -> None:
    clock = Clock()
    store = IdentityStore(tables["identities"], clock=clock)
    mapped(store)
    assert approver_people(store, APPROVAL) == {LEVEL_1: ("U0ALICE", "U0BOB")}
    tables["identities"].client.delete_item(
        TableName=tables["identities"].name, Key={"slack_user_id": {"S": "U0BOB"}}
    )

    clock.now += 59
    assert approver_people(store, APPROVAL) == {LEVEL_1: ("U0ALICE", "U0BOB")}
    clock.now += 2
    assert approver_people(store, APPROVAL) == {LEVEL_1: ("U0ALICE",)}


def test_a_mapping_this_process_makes_shows_on_the_next_card(tables: dict[str, TableAt]) -> None:
    store = IdentityStore(tables["identities"], clock=Clock())
    assert approver_people(store, APPROVAL) == {}
    mapped(store)
    assert approver_people(store, APPROVAL) == {LEVEL_1: ("U0ALICE", "U0BOB")}


def test_the_posted_card_names_the_people_and_keeps_the_rest_raw(
    tables: dict[str, TableAt],
) -> None:
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    slack = FakeSlack()
    automation = FakeAutomation()
    automation.approvals[EXECUTION] = APPROVAL
    identities = IdentityStore(tables["identities"])
    mapped(identities)
    service = ApprovalService(
        automation=automation,
        signals=None,  # type: ignore[arg-type]
        store=ApprovalStore(tables["approvals"], lambda: now),
        identities=identities,
        audit=AuditLog(tables["audit"], lambda: now),
        slack=slack,
        route=lambda approval: "C0APPROVALS",
        now=lambda: now,
        reminder_before=timedelta(hours=1),
        pacer=FakePacer(slack),
    )

    service.announce(EXECUTION)

    [card] = slack.cards()
    [field] = [
        f["text"]
        for b in card.blocks
        for f in b.get("fields", ())
        if f["text"].startswith("*Approvers*")
    ]
    assert field.splitlines() == [
        "*Approvers*",
        "<@U0ALICE>, <@U0BOB>",
        "`role/Level1Approvers`",
        "`role/Nobody`",
        "`ci-bot`",
        "`assumed-role/Other/some-session`",
    ]
    assert "U0CAROL" not in json.dumps(card.blocks)
