"""`signoff backfill-open-index`: cards and levels written before the Open index join it, once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from bot import cli
from bot.gateways.dynamo import TableAt
from bot.gateways.flowstore import FlowStore
from bot.gateways.tables import ApprovalStore
from bot.models import CardRef, Outcome
from tests.support.dynamo import create_table, from_before_the_open_index

NOW = datetime(2026, 12, 3, 20, tzinfo=UTC)


@pytest.fixture
def table() -> Iterator[TableAt]:
    with mock_aws():
        yield create_table(boto3.client("dynamodb", region_name="us-east-1"), "approvals", "t")


def old_items(table: TableAt) -> tuple[ApprovalStore, FlowStore]:
    """A card and a level still waiting and a card that closed, all from before the index,
    beside a card written since."""
    store, flows = ApprovalStore(table, lambda: NOW), FlowStore(table, lambda: NOW)
    for execution_id in ("exec-waiting", "exec-closed", "exec-new"):
        assert store.claim_card(execution_id, "approve", "C0APPROVALS")
    ref = CardRef("C0APPROVALS", "1700000000.000100")
    store.card_posted("exec-closed", "approve", ref, 1000, Outcome.APPROVED)
    assert flows.start_level("flow-1", 1, "exec-level", 1, "C0APPROVALS")
    for execution_id in ("exec-waiting", "exec-closed"):
        from_before_the_open_index(table, f"EXEC#{execution_id}", "CARD#approve")
    from_before_the_open_index(table, "FLOW#flow-1", "LEVEL#0001")
    assert {c.execution_id for c in store.open_cards()} == {"exec-new"}
    assert list(flows.open_levels()) == []
    return store, flows


def test_waiting_cards_and_levels_without_the_mark_are_put_into_the_index_once(
    table: TableAt,
) -> None:
    store, flows = old_items(table)

    assert (store.index_open_cards(), flows.index_open_levels()) == (1, 1)

    assert {c.execution_id for c in store.open_cards()} == {"exec-waiting", "exec-new"}
    assert [level.execution_id for level in flows.open_levels()] == ["exec-level"]
    assert (store.index_open_cards(), flows.index_open_levels()) == (0, 0), "nothing left to do"


def test_the_command_says_what_it_put_into_the_index(
    table: TableAt, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old_items(table)
    for kind in ("APPROVALS", "AUDIT", "IDENTITIES", "IDEMPOTENCY"):
        monkeypatch.setenv(f"SIGNOFF_{kind}_TABLE", table.name)
    monkeypatch.setenv("SIGNOFF_DEFAULT_CHANNEL", "C0APPROVALS")
    monkeypatch.setenv("AWS_REGION", "us-east-1")

    assert cli.main(["backfill-open-index"]) == 0
    assert cli.main(["backfill-open-index"]) == 0

    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith("put 1 waiting cards and 1 waiting flow levels into the Open index")
    assert second.startswith("put 0 waiting cards and 0 waiting flow levels")
