"""Who a click acts as: a mapping made a moment ago counts at once, and a refusal says which part
of the mapping is missing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bot.approvals import ApprovalService
from bot.errors import NotMapped
from bot.gateways.dynamo import TableAt
from bot.gateways.tables import ApprovalStore, AuditLog, IdentityStore
from bot.models import Approval, Outcome
from tests.support.dynamo import signoff_tables
from tests.support.fakes import FakeAutomation, FakeSlack

REGION = "us-east-1"
EXECUTION = "00000000-0000-4000-8000-000000000001"
ROLE = "arn:aws:iam::123456789012:role/SignoffApprover"
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
APPROVAL = Approval(
    execution_id=EXECUTION,
    step_name="approve",
    document_name="Signoff-Approval",
    region=REGION,
    outcome=Outcome.WAITING,
    approvers=(ROLE,),
    min_required=1,
    message="Deploy build 42",
)


@dataclass
class Clicks:
    service: ApprovalService
    identities: TableAt
    reads: list[bool]  # ConsistentRead of each GetItem on the identities table


@pytest.fixture
def clicks() -> Iterator[Clicks]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        tables = signoff_tables(client)
        reads: list[bool] = []

        def record(params: dict[str, Any], **_: Any) -> None:
            if params.get("TableName") == tables["identities"].name:
                reads.append(bool(params.get("ConsistentRead")))

        # botocore's documented event hook: what each GetItem asked for, as sent.
        client.meta.events.register("provide-client-params.dynamodb.GetItem", record)
        automation = FakeAutomation()
        automation.approvals[EXECUTION] = APPROVAL
        service = ApprovalService(
            automation=automation,
            signals=None,  # type: ignore[arg-type]
            store=ApprovalStore(tables["approvals"], lambda: NOW),
            identities=IdentityStore(tables["identities"]),
            audit=AuditLog(tables["audit"], lambda: NOW),
            slack=FakeSlack(),
            route=lambda approval: "C0APPROVALS",
            now=lambda: NOW,
            reminder_before=timedelta(hours=1),
        )
        yield Clicks(service, tables["identities"], reads)


def map_elsewhere(table: TableAt, slack_user_id: str, **attributes: str) -> None:
    """As `signoff users map` on an operator's laptop: the table changes, no function is told."""
    item = {"slack_user_id": slack_user_id, "display_name": "alice", **attributes}
    table.client.put_item(TableName=table.name, Item={k: {"S": v} for k, v in item.items()})


def test_a_role_mapped_a_moment_after_a_refused_click_counts_at_once(clicks: Clicks) -> None:
    map_elsewhere(clicks.identities, "U0ALICE", iam_user="alice")
    with pytest.raises(NotMapped):
        clicks.service.check("U0ALICE", EXECUTION, "approve")  # remembers alice: no role

    map_elsewhere(clicks.identities, "U0ALICE", iam_user="alice", role_arn=ROLE)

    # Seconds later, well inside the minute a remembered mapping may stand in for a read.
    assert clicks.service.check("U0ALICE", EXECUTION, "approve") == APPROVAL


def test_a_refusal_for_no_mapping_comes_from_a_strongly_consistent_read(clicks: Clicks) -> None:
    # An eventually consistent read may not yet see a mapping written a moment ago.
    with pytest.raises(NotMapped, match="not mapped"):
        clicks.service.check("U0MALLORY", EXECUTION, "approve")

    assert clicks.reads[-1] is True


def test_a_person_with_an_iam_user_but_no_approver_role_is_told_exactly_that(
    clicks: Clicks,
) -> None:
    map_elsewhere(clicks.identities, "U0ALICE", iam_user="alice")

    with pytest.raises(NotMapped) as refused:
        clicks.service.check("U0ALICE", EXECUTION, "approve")

    told = str(refused.value)
    assert "IAM user `alice`" in told and "no approver role" in told
    # `users map` replaces the whole mapping: the line to run keeps the IAM user.
    assert "signoff users map U0ALICE --role <approver-role-arn> --iam-user alice" in told
    assert "not mapped" not in told
