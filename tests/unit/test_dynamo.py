"""DynamoTable: claims won once, a failed condition is an answer, other refusals domain errors;
and the card writes that lean on conditions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import ServiceError, TransientError
from bot.gateways.dynamo import DynamoTable, _plain, _wire
from bot.gateways.flowstore import FlowStore, LevelItem
from bot.gateways.tables import ApprovalStore, AuditLog
from bot.models import Approval, CardRef, Decision, Outcome, Verdict

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_claim_is_won_once_and_can_be_taken_again_after_release(table: Any) -> None:
    db = DynamoTable(table, "approvals")
    key = {"pk": "EXEC#e-1", "sk": "CLAIM#decision"}
    assert db.claim({**key, "by": "alice"})
    assert not db.claim({**key, "by": "bob"})
    assert db.get(key) == {**key, "by": "alice"}
    db.release(key)
    assert db.claim({**key, "by": "bob"})


def test_a_claim_with_its_own_condition_takes_over_only_what_it_allows(table: Any) -> None:
    db = DynamoTable(table, "approvals")
    key = {"pk": "TASK#t", "sk": "TASK"}
    stale = "attribute_not_exists(pk) OR claimed_at < :stale"
    assert db.claim({**key, "claimed_at": "2026-01-01T10:00"}, stale, {":stale": "2026-01-01"})
    assert not db.claim({**key, "claimed_at": "2026-01-01T11:00"}, stale, {":stale": "2026-01-01"})
    assert db.claim({**key, "claimed_at": "2026-01-02T10:00"}, stale, {":stale": "2026-01-02"})


def test_a_conditional_update_says_whether_it_applied(table: Any) -> None:
    db = DynamoTable(table, "approvals")
    key = {"pk": "EXEC#e-1", "sk": "CARD#Approve"}
    db.put({**key, "rank": 1})
    raise_to = "attribute_exists(pk) AND #rank < :rank"
    names = {"#rank": "rank"}
    assert db.update(key, "SET #rank = :rank", {":rank": 2}, condition=raise_to, names=names)
    assert not db.update(key, "SET #rank = :rank", {":rank": 2}, condition=raise_to, names=names)
    assert db.get(key) == {**key, "rank": 2}


def test_delete_says_whether_there_was_an_item(table: Any) -> None:
    db = DynamoTable(table, "approvals")
    key = {"pk": "EXEC#e-1", "sk": "CARD#Approve"}
    db.put(key)
    assert db.delete(key)
    assert not db.delete(key)


def test_a_put_that_must_not_overwrite_refuses_as_an_error(table: Any) -> None:
    db = DynamoTable(table, "audit")
    row = {"pk": "EXEC#e-1", "sk": "2026-01-01T10:00#abc"}
    db.put(row, condition="attribute_not_exists(sk)")
    with pytest.raises(ServiceError, match="write to the audit table"):
        db.put(row, condition="attribute_not_exists(sk)")


def test_scan_reads_every_page(table: Any) -> None:
    db = DynamoTable(table, "approvals")
    stub = Stubber(table.client)
    where = {
        "TableName": "approvals",
        "FilterExpression": "#at >= :start",
        "ExpressionAttributeValues": {":start": {"S": "2026"}},
        "ExpressionAttributeNames": {"#at": "at"},
    }
    stub.add_response(
        "scan",
        {"Items": [{"pk": {"S": "a"}}], "LastEvaluatedKey": {"pk": {"S": "a"}}},
        where,
    )
    stub.add_response(
        "scan", {"Items": [{"pk": {"S": "b"}}]}, where | {"ExclusiveStartKey": {"pk": {"S": "a"}}}
    )
    with stub:
        found = db.scan("#at >= :start", {":start": "2026"}, {"#at": "at"})
        assert [item["pk"] for item in found] == ["a", "b"]
    stub.assert_no_pending_responses()


def test_get_many_reads_100_keys_a_request_and_each_key_once(table: Any) -> None:
    db = DynamoTable(table, "approvals")
    for n in range(150):
        db.put({"pk": f"EXEC#e-{n}", "sk": "CLAIM#told", "n": n})
    requests: list[int] = []
    table.client.meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem",
        lambda params, **_: requests.append(len(params["RequestItems"]["approvals"]["Keys"])),
    )
    keys = [{"pk": f"EXEC#e-{n}", "sk": "CLAIM#told"} for n in range(250)]

    found = db.get_many(keys + keys[:20])

    assert sorted(int(item["n"]) for item in found) == list(range(150))
    assert requests == [100, 100, 50]
    assert db.get_many([]) == [] and len(requests) == 3, "nothing to read, no request"


def _keys(*names: str) -> list[dict[str, Any]]:
    return [{"pk": {"S": name}, "sk": {"S": "s"}} for name in names]


def _batch(*names: str) -> dict[str, Any]:
    return {"RequestItems": {"approvals": {"Keys": _keys(*names), "ConsistentRead": True}}}


def _answer(found: list[str], left: list[str]) -> dict[str, Any]:
    answer: dict[str, Any] = {"Responses": {"approvals": _keys(*found)}}
    if left:
        answer["UnprocessedKeys"] = {"approvals": {"Keys": _keys(*left)}}
    return answer


@dataclass
class Batches:
    """A DynamoTable on a stubbed client, and the pauses it made between requests."""

    db: DynamoTable
    stub: Stubber
    pauses: list[float]


@pytest.fixture
def batches(table: Any, monkeypatch: pytest.MonkeyPatch) -> Batches:
    pauses: list[float] = []
    monkeypatch.setattr("bot.gateways.dynamo.time.sleep", pauses.append)
    return Batches(DynamoTable(table, "approvals"), Stubber(table.client), pauses)


def test_keys_dynamodb_left_unprocessed_are_asked_again_after_a_pause(batches: Batches) -> None:
    batches.stub.add_response("batch_get_item", _answer(["a"], left=["b"]), _batch("a", "b"))
    batches.stub.add_response("batch_get_item", _answer(["b"], left=[]), _batch("b"))
    with batches.stub:
        found = batches.db.get_many([{"pk": "a", "sk": "s"}, {"pk": "b", "sk": "s"}])
    assert sorted(f["pk"] for f in found) == ["a", "b"]
    assert batches.pauses == [0.05]


def test_keys_left_unprocessed_every_time_end_in_a_transient_error(batches: Batches) -> None:
    for _ in range(6):
        batches.stub.add_response("batch_get_item", _answer([], left=["a"]), _batch("a"))
    with batches.stub, pytest.raises(TransientError, match="read the approvals table"):
        batches.db.get_many([{"pk": "a", "sk": "s"}])
    assert batches.pauses == [0.05, 0.1, 0.2, 0.4, 0.8]


def test_the_store_says_which_executions_hold_a_claim(table: Any) -> None:
    store = ApprovalStore(table, lambda: NOW)
    told = store.key_outcome_told_claim
    assert store.claims.take(told("e-1")) and store.claims.take(told("e-3"))
    assert store.claims.take(store.key_outcome_dm_claim("e-2"))

    everyone = [told(e) for e in ("e-1", "e-2", "e-3", "e-4")]
    assert store.claims.held_of(everyone) == {told("e-1"), told("e-3")}
    assert store.claims.held_of([]) == set()


# What Signoff stores: strings, whole and Decimal numbers, flags, None, lists, maps, string sets.
_numbers = st.integers(-(10**37), 10**37) | st.decimals(
    allow_nan=False, allow_infinity=False, places=6, min_value=-(10**20), max_value=10**20
)
_scalars = st.text() | _numbers | st.booleans() | st.none()
_values = st.recursive(
    _scalars | st.frozensets(st.text(), min_size=1),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(min_size=1), _values, max_size=6))
def test_values_go_to_dynamodb_and_back_as_boto3_converts_them(item: dict[str, Any]) -> None:
    wire = _wire(item)
    boto3_wire = {k: TypeSerializer().serialize(v) for k, v in item.items()}
    assert _normal(wire) == _normal(boto3_wire)
    assert _plain(wire) == {k: TypeDeserializer().deserialize(v) for k, v in wire.items()}


def _normal(value: Any) -> Any:
    """Wire values with string sets in one order (DynamoDB keeps no order in a set)."""
    if isinstance(value, dict):
        return {k: sorted(v) if k == "SS" else _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


@pytest.mark.parametrize("value", [1.5, b"bytes", frozenset(), object()])
def test_a_value_dynamodb_cannot_hold_is_refused_by_type(value: Any) -> None:
    with pytest.raises(TypeError, match=type(value).__name__):
        _wire({"a": value})


def test_numbers_come_back_as_decimal_and_a_float_is_refused_with_the_fix() -> None:
    assert _plain(_wire({"n": 7, "d": Decimal("0.25")})) == {"n": Decimal(7), "d": Decimal("0.25")}
    with pytest.raises(TypeError, match="use Decimal"):
        _wire({"f": 0.25})


def _approval(execution_id: str, decisions: int, outcome: Outcome = Outcome.WAITING) -> Approval:
    return Approval(
        execution_id=execution_id,
        step_name="approve",
        document_name="Signoff-Approval",
        region="us-east-1",
        outcome=outcome,
        approvers=("arn:aws:iam::123456789012:role/SignoffApprover",),
        min_required=2,
        message="Deploy build 42",
        decisions=tuple(
            Decision(f"arn:aws:sts::123456789012:assumed-role/A/U{n}", Verdict.APPROVE, NOW)
            for n in range(decisions)
        ),
        parameters={"RequesterSlackId": ("U0DAVE",), "SfnHandle": ("not-for-the-table",)},
    )


def test_the_open_index_holds_a_card_exactly_while_it_waits(table: Any) -> None:
    store = ApprovalStore(table, lambda: NOW)
    assert store.claim_card("open", "approve", "C0APPROVALS")
    assert store.claim_card("closed", "approve", "C0APPROVALS")
    # A claim is never in it.
    assert store.claims.take(store.decision_claim("open", "approve", "someone"))
    assert store.raise_rank(_approval("open", 1))
    closed = _approval("closed", 1, Outcome.APPROVED)
    assert store.raise_rank(closed)
    assert [c.execution_id for c in store.open_cards()] == ["open"]

    # Slack never showed the approval: back to waiting, and back in the index.
    store.lower_rank("closed", "approve", closed.rank, 1, Outcome.WAITING)
    assert sorted(c.execution_id for c in store.open_cards()) == ["closed", "open"]
    store.lower_rank("open", "approve", 1, 0, Outcome.REJECTED)
    assert [c.execution_id for c in store.open_cards()] == ["closed"]


def test_the_open_index_holds_a_flow_level_exactly_while_it_waits(table: Any) -> None:
    flows = FlowStore(table, lambda: NOW)
    assert flows.start_level("f-1", 1, "exec-1", 1, "C0APPROVALS")
    assert flows.start_level("f-1", 2, "exec-2", 1, "C0APPROVALS")
    ApprovalStore(table, lambda: NOW).claim_card("exec-1", "approve", "C0APPROVALS")
    closed = LevelItem("f-1", 2, "exec-2", Outcome.REJECTED, rank=5, channel="C0APPROVALS")
    assert flows.record_level(closed)
    assert [(lv.flow_id, lv.level) for lv in flows.open_levels()] == [("f-1", 1)]

    # A retried level waits on a new execution: open again.
    assert flows.start_level("f-1", 2, "exec-3", 1, "C0APPROVALS")
    assert [(lv.level, lv.execution_id) for lv in flows.open_levels()] == [
        (1, "exec-1"),
        (2, "exec-3"),
    ]


def test_the_open_index_is_read_page_by_page(table: Any) -> None:
    store = ApprovalStore(table, lambda: NOW)
    stub = Stubber(table.client)
    query = {
        "TableName": "approvals",
        "IndexName": "Open",
        "KeyConditionExpression": "open_kind = :kind",
        "ExpressionAttributeValues": {":kind": {"S": "CARD"}},
    }
    card = {
        "pk": {"S": "EXEC#a"},
        "sk": {"S": "CARD#approve"},
        "execution_id": {"S": "a"},
        "step_name": {"S": "approve"},
        "channel": {"S": "C0APPROVALS"},
        "rank": {"N": "0"},
        "outcome": {"S": "Waiting"},
        "created_at": {"S": NOW.isoformat()},
    }
    stub.add_response(
        "query", {"Items": [card], "LastEvaluatedKey": {"pk": {"S": "EXEC#a"}}}, query
    )
    b = {**card, "pk": {"S": "EXEC#b"}, "execution_id": {"S": "b"}}
    stub.add_response(
        "query", {"Items": [b]}, query | {"ExclusiveStartKey": {"pk": {"S": "EXEC#a"}}}
    )
    with stub:
        assert [c.execution_id for c in store.open_cards()] == ["a", "b"]
    stub.assert_no_pending_responses()


def test_the_audit_is_read_since_a_time(table: Any) -> None:
    audit = AuditLog(table, lambda: NOW)
    audit.append("exec-1", "notice_received")
    later = AuditLog(table, lambda: NOW + timedelta(hours=1))
    later.append("exec-1", "outcome")
    assert [r["event"] for r in audit.since(NOW + timedelta(minutes=1))] == ["outcome"]


def test_the_audit_says_whether_a_subject_has_an_event_with_given_fields(table: Any) -> None:
    audit = AuditLog(table, lambda: NOW)
    audit.append("exec-1", "notice_received", step="approve", ts="1700000000.000100")

    assert audit.has("exec-1", "notice_received", step="approve", ts="1700000000.000100")
    assert not audit.has("exec-1", "notice_received", step="approve", ts="1700000000.000200")
    assert not audit.has("exec-1", "outcome", step="approve")
    assert not audit.has("exec-2", "notice_received")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("ProvisionedThroughputExceededException", TransientError),
        ("ThrottlingException", TransientError),
        ("AccessDeniedException", ServiceError),
    ],
)
def test_other_refusals_are_domain_errors_that_name_the_table(
    table: Any, code: str, kind: type[ServiceError]
) -> None:
    db = DynamoTable(table, "approvals")
    stub = Stubber(table.client)
    stub.add_client_error("put_item", code)
    stub.add_client_error("update_item", code)
    stub.add_client_error("delete_item", code)
    with stub:
        with pytest.raises(kind, match="write to the approvals table") as claimed:
            db.claim({"pk": "p", "sk": "s"})
        with pytest.raises(kind, match="update the approvals table"):
            db.update({"pk": "p", "sk": "s"}, "SET a = :a", {":a": 1}, condition="a < :a")
        with pytest.raises(kind, match="release a claim in the approvals table"):
            db.release({"pk": "p", "sk": "s"})
    assert claimed.type is kind
    assert code in str(claimed.value)


def test_a_posted_card_records_its_ts_and_state_in_one_write_unless_a_later_state_is_shown(
    table: Any,
) -> None:
    store = ApprovalStore(table, lambda: NOW)
    ref = CardRef("C0APPROVALS", "1700000000.000100")
    assert store.claim_card("exec-1", "approve", "C0APPROVALS")

    store.card_posted(_approval("exec-1", 2), ref)
    card = store.card("exec-1", "approve")
    assert card is not None and card.ref == ref and card.rank == 2

    # A sync already showed a later state: the ts is recorded, the state is not taken back.
    assert store.claim_card("exec-2", "approve", "C0APPROVALS")
    approved = _approval("exec-2", 2, Outcome.APPROVED)
    assert store.raise_rank(approved)
    store.card_posted(_approval("exec-2", 2), ref)
    later = store.card("exec-2", "approve")
    assert later is not None and later.ref == ref
    assert (later.rank, later.outcome) == (approved.rank, Outcome.APPROVED)
    assert later.seen is not None and later.seen.outcome is Outcome.APPROVED


def test_a_card_keeps_the_approval_it_shows_with_its_state_and_only_the_requester_of_its_inputs(
    table: Any,
) -> None:
    store = ApprovalStore(table, lambda: NOW)
    ref = CardRef("C0APPROVALS", "1700000000.000100")
    assert store.claim_card("exec-1", "approve", "C0APPROVALS")
    first, later = _approval("exec-1", 0), _approval("exec-1", 1)

    store.card_posted(first, ref)
    assert store.raise_rank(later)
    # An older read arriving late changes nothing, the approval it saw included.
    assert not store.raise_rank(first)

    card = store.card("exec-1", "approve")
    assert card is not None and card.seen is not None
    assert card.seen.decisions == later.decisions
    assert dict(card.seen.parameters) == {"RequesterSlackId": ("U0DAVE",)}
    assert [c.seen for c in store.open_cards()] == [card.seen]


def test_a_card_row_without_a_readable_approval_reads_as_none(table: Any) -> None:
    store = ApprovalStore(table, lambda: NOW)
    assert store.claim_card("exec-1", "approve", "C0APPROVALS")
    table.client.update_item(  # the card's state, as rows written before `seen` was kept
        TableName=table.name,
        Key={"pk": {"S": "EXEC#exec-1"}, "sk": {"S": "CARD#approve"}},
        UpdateExpression="SET #rank = :rank",
        ExpressionAttributeNames={"#rank": "rank"},
        ExpressionAttributeValues={":rank": {"N": "0"}},
    )
    assert store.card("exec-1", "approve").seen is None  # type: ignore[union-attr]

    table.client.update_item(
        TableName=table.name,
        Key={"pk": {"S": "EXEC#exec-1"}, "sk": {"S": "CARD#approve"}},
        UpdateExpression="SET seen = :seen",
        ExpressionAttributeValues={":seen": {"S": '{"written": "by another version"}'}},
    )
    assert store.card("exec-1", "approve").seen is None  # type: ignore[union-attr]
