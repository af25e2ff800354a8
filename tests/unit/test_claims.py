"""once(): the act runs for exactly one caller; a failed act gives its claim back unless it may
have happened."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.errors import ServiceError
from bot.gateways.claims import ClaimKey, ClaimTable, Ran, once
from bot.gateways.dynamo import DynamoTable, TableAt
from bot.gateways.slack import PostUnconfirmed

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEY = ClaimKey.of("EXEC#e-1", "decision#Approve#alice")


@pytest.fixture
def db(table: TableAt) -> DynamoTable:
    return DynamoTable(table, "approvals")


@pytest.fixture
def claims(db: DynamoTable) -> ClaimTable:
    return ClaimTable(db, lambda: NOW)


def test_the_act_runs_for_the_first_caller_only(claims: ClaimTable) -> None:
    runs: list[str] = []

    def post(who: str) -> str:
        runs.append(who)
        return "posted"

    assert once(claims, KEY, lambda: post("first")) == Ran("posted")
    assert once(claims, KEY, lambda: post("second")) is None
    assert runs == ["first"]
    assert claims.held(KEY)


def test_a_failed_act_gives_the_claim_back_so_a_retry_does_the_work(claims: ClaimTable) -> None:
    def fails() -> None:
        raise ServiceError("Slack refused the post")

    with pytest.raises(ServiceError, match="refused"):
        once(claims, KEY, fails)
    assert not claims.held(KEY)
    assert once(claims, KEY, lambda: "retried") == Ran("retried")


def test_an_act_that_may_have_happened_keeps_its_claim(claims: ClaimTable) -> None:
    def unconfirmed() -> None:
        raise PostUnconfirmed("Slack did not answer; the message may be in the channel")

    with pytest.raises(PostUnconfirmed):
        once(claims, KEY, unconfirmed, keep_on=(PostUnconfirmed,))
    assert claims.held(KEY)
    assert once(claims, KEY, lambda: "twice") is None


def test_a_claim_that_cannot_be_given_back_is_logged_and_the_acts_error_raised(
    db: DynamoTable, caplog: pytest.LogCaptureFixture
) -> None:
    class Stuck(ClaimTable):
        def release(self, key: ClaimKey) -> None:
            raise ServiceError("DynamoDB is unreachable")

    stuck = Stuck(db, lambda: NOW)

    def fails() -> None:
        raise ValueError("the act's own error")

    with pytest.raises(ValueError, match="own error"):
        once(stuck, KEY, fails)
    assert "could not release a claim" in caplog.text
    assert stuck.held(KEY)


def test_claims_are_stored_with_their_attributes_and_an_expiry(
    claims: ClaimTable, db: DynamoTable
) -> None:
    assert once(claims, KEY, lambda: None, verdict="Approve") == Ran(None)
    item: dict[str, Any] | None = db.get({"pk": "EXEC#e-1", "sk": "CLAIM#decision#Approve#alice"})
    assert item is not None
    assert item["verdict"] == "Approve"
    assert item["claimed_at"] == NOW.isoformat()
    assert int(item["expires_at"]) > NOW.timestamp()


def test_held_of_names_those_held(claims: ClaimTable) -> None:
    other = ClaimKey.of("EXEC#e-2", "decision#Approve#alice")
    claims.take(KEY)
    assert claims.held_of([KEY, other]) == {KEY}
