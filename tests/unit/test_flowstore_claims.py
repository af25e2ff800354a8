"""FlowStore's claim keys: each built by a named method, stored under the sort key it always had."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.gateways.claims import ClaimKey
from bot.gateways.dynamo import DynamoTable
from bot.gateways.flowstore import FlowStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FLOW = "arn:aws:states:us-east-1:123456789012:execution:ApprovalFlow:deploy-42"
EXECUTION = "333ba70b-2333-48db-b17e-a5e69c6f4d1c"


@pytest.mark.parametrize(
    ("build", "sk"),
    [
        (lambda f: f.outcome_claim(FLOW), "CLAIM#outcome"),
        (lambda f: f.late_claim(FLOW, EXECUTION), f"CLAIM#late#{EXECUTION}"),
        (
            lambda f: f.root_recorded_claim(FLOW, "1700000000.000100"),
            "CLAIM#root#1700000000.000100",
        ),
        (lambda f: f.root_unconfirmed_claim(FLOW), "CLAIM#root-unconfirmed"),
        (lambda f: f.pointer_claim(FLOW, EXECUTION), f"CLAIM#pointer#{EXECUTION}"),
        (lambda f: f.pointer_closed_claim(FLOW, EXECUTION), f"CLAIM#pointer-closed#{EXECUTION}"),
    ],
)
def test_a_claim_taken_before_an_upgrade_is_found_after_it(table: Any, build: Any, sk: str) -> None:
    # The item an earlier release wrote for this claim, byte for byte.
    DynamoTable(table, "approvals").put({"pk": f"FLOW#{FLOW}", "sk": sk, "claimed_at": "x"})
    flows = FlowStore(table, lambda: NOW)
    key = build(flows)
    assert key == ClaimKey(f"FLOW#{FLOW}", sk)
    assert flows.claims.held(key)
    assert not flows.claims.take(key)


def test_task_and_completion_claims_keep_their_items_and_are_taken_over_only_when_stale(
    table: Any,
) -> None:
    flows = FlowStore(table, lambda: NOW)
    db = DynamoTable(table, "approvals")
    task = flows.task_claim("ab" * 32)
    completion = flows.completion_claim(EXECUTION)
    assert task == ClaimKey(f"TASK#{'ab' * 32}", "TASK")
    assert completion == ClaimKey(f"EXEC#{EXECUTION}", "SFN")
    assert flows.task_claims(NOW).take(task, flow_id=FLOW, level=1, levels=2, handle="h" * 32)
    assert flows.completion_claims(NOW).take(completion)
    assert flows.task("ab" * 32) is not None
    stored = db.get({"pk": f"EXEC#{EXECUTION}", "sk": "SFN"})
    assert stored is not None and stored["phase"] == "sending"
    # Not stale yet: nobody takes them over.
    assert not flows.task_claims(NOW).take(task, flow_id=FLOW, level=1, levels=2, handle="x")
    assert not flows.completion_claims(NOW).take(completion)
    later = NOW + timedelta(minutes=5)
    assert flows.task_claims(later).take(task, flow_id=FLOW, level=1, levels=2, handle="y" * 32)
    assert flows.completion_claims(later).take(completion)
    # Done is done: a finished completion and a started task are never taken over.
    flows.finish_completion(EXECUTION)
    flows.finish_task("ab" * 32, EXECUTION)
    much_later = NOW + timedelta(days=1)
    assert not flows.completion_claims(much_later).take(completion)
    assert not flows.task_claims(much_later).take(task, flow_id=FLOW, level=1, levels=2)


def test_each_claim_of_a_flow_is_its_own(table: Any) -> None:
    flows = FlowStore(table, lambda: NOW)
    keys = [
        flows.outcome_claim(FLOW),
        flows.late_claim(FLOW, EXECUTION),
        flows.pointer_claim(FLOW, EXECUTION),
        flows.pointer_closed_claim(FLOW, EXECUTION),
        flows.root_unconfirmed_claim(FLOW),
        flows.outcome_claim(FLOW + "-other"),
    ]
    assert all(flows.claims.take(key) for key in keys)
    assert flows.claims.held_of(keys) == set(keys)
