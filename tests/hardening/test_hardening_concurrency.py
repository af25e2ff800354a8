"""Two approvers deciding the same card at the same moment, 50 times: SSM, audit and card agree.

Each round is a 2-of-2 approval whose approvers are listed by their exact assumed-role session
ARNs. Alice's and Bob's modal submissions reach the bot's Function URL together, signed as Slack
signs them, while the EventBridge status events of the first decision race the second. Rounds run
ten at a time against one world, so 50 of them take well under a minute.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from bot.models import DecisionTarget, Verdict
from bot.views import ACTION_APPROVE
from tests.support.signed import signed_request
from tests.support.world import ACCOUNT, APPROVAL_DOCUMENT, REGION, SIGNING_SECRET, World

ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/SignoffApprover/U0ALICE"
BOB = f"arn:aws:sts::{ACCOUNT}:assumed-role/SignoffApprover/U0BOB"
ROUNDS = 50
AT_ONCE = 10
# Both approve, or one or both reject: whoever lands first, one Reject rejects the step.
VERDICTS = [
    (Verdict.APPROVE, Verdict.APPROVE),
    (Verdict.REJECT, Verdict.APPROVE),
    (Verdict.APPROVE, Verdict.REJECT),
    (Verdict.REJECT, Verdict.REJECT),
]


def submission(user: str, execution_id: str, verdict: Verdict, card_ts: str) -> dict[str, Any]:
    """The view_submission Slack sends when a person submits Signoff's decision modal."""
    target = DecisionTarget(execution_id, None, verdict, "C0APPROVALS", card_ts)
    comment = "" if verdict is Verdict.APPROVE else f"no, says {user}"
    return {
        "type": "view_submission",
        "team": {"id": "T0SIGNOFF", "domain": "signoff-sandbox"},
        "user": {"id": user, "team_id": "T0SIGNOFF"},
        "api_app_id": "A0SIGNOFF",
        "view": {
            "id": f"V{user}{execution_id[:8]}",
            "type": "modal",
            "team_id": "T0SIGNOFF",
            "callback_id": "approval_decision",
            "private_metadata": target.dumps(),
            "state": {
                "values": {
                    "comment": {"comment_input": {"type": "plain_text_input", "value": comment}}
                }
            },
        },
    }


def start(world: World, count: int) -> list[str]:
    ssm = world.client("ssm")
    ids = [
        ssm.start_automation_execution(
            DocumentName=APPROVAL_DOCUMENT,
            Parameters={
                "Description": ["Production deploy"],
                "Message": [f"Deploy build {n}"],
                "NotificationArn": [world.topic_arn],
                "Approvers": [ALICE, BOB],
                "MinRequiredApprovals": ["2"],
            },
        )["AutomationExecutionId"]
        for n in range(count)
    ]
    world.settle()
    return ids


def cards_of(world: World, execution_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The cards in #approvals naming each execution (its id is in the card's console link)."""
    messages = [(m, json.dumps(m["blocks"])) for m in world.messages() if m.get("blocks")]
    return {e: [m for m, text in messages if e in text] for e in execution_ids}


def the_card(world: World, execution_id: str, cards: list[dict[str, Any]]) -> dict[str, Any]:
    """The one card naming the execution; if there is not exactly one, a failure that shows every
    Slack post and update about it and the card's row, so a rare race explains itself."""
    if len(cards) == 1:
        return cards[0]
    calls = [
        {k: c.get(k) for k in ("seq", "time", "method", "status")}
        | {"ts": (c.get("response") or {}).get("ts"), "metadata": c["params"].get("metadata")}
        for c in world.emulator.calls()
        if c["method"] in ("chat.postMessage", "chat.update") and execution_id in json.dumps(c)
    ]
    table = world.session.resource("dynamodb", region_name=REGION).Table(world.table("approvals"))
    rows = table.query(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": f"EXEC#{execution_id}"},
    )
    raise AssertionError(
        f"{len(cards)} cards name {execution_id} (ts {[c['ts'] for c in cards]}); "
        f"Slack calls about it: {calls}; its rows: {rows['Items']}; "
        f"audit: {world.audit(execution_id)}"
    )


def decide_together(world: World, pairs: list[tuple[str, str, Verdict, Verdict]]) -> None:
    """Every (execution, card ts, alice's verdict, bob's verdict) sent at the same moment."""
    barrier = threading.Barrier(2 * len(pairs))

    def send(user: str, execution_id: str, ts: str, verdict: Verdict) -> int:
        body, headers = signed_request(submission(user, execution_id, verdict, ts), SIGNING_SECRET)
        barrier.wait()
        return requests.post(world.bot_url, data=body, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=2 * len(pairs)) as pool:
        futures = [
            pool.submit(send, user, execution_id, ts, verdict)
            for execution_id, ts, alice, bob in pairs
            for user, verdict in (("U0ALICE", alice), ("U0BOB", bob))
        ]
        assert [f.result() for f in futures] == [200] * len(futures)
    world.settle()


def test_fifty_simultaneous_pairs_of_decisions_agree_everywhere(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.map_user("U0ALICE", "alice")
    world.map_user("U0BOB", "bob")
    rounds: list[tuple[str, Verdict, Verdict]] = []
    for batch in range(ROUNDS // AT_ONCE):
        ids = start(world, AT_ONCE)
        cards = cards_of(world, ids)
        pairs = []
        for n, execution_id in enumerate(ids):
            alice, bob = VERDICTS[(batch * AT_ONCE + n) % len(VERDICTS)]
            card = the_card(world, execution_id, cards[execution_id])
            pairs.append((execution_id, str(card["ts"]), alice, bob))
            rounds.append((execution_id, alice, bob))
        decide_together(world, pairs)

    cards = cards_of(world, [execution_id for execution_id, _, _ in rounds])
    for execution_id, alice, bob in rounds:
        check_round(world, execution_id, alice, bob, cards[execution_id])
    crashes = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert crashes == []


def check_round(
    world: World,
    execution_id: str,
    alice: Verdict,
    bob: Verdict,
    cards: list[dict[str, Any]],
) -> None:
    step = world.approve_step(execution_id)
    in_ssm = [json.loads(d) for d in step.get("Outputs", {}).get("ApproverDecisions", [])]
    ssm = Counter((d["Approver"], d["Decision"]) for d in in_ssm)
    audit = world.audit(execution_id)
    audited = Counter(
        (str(r["principal"]), str(r["verdict"])) for r in audit if r["event"] == "decision"
    )
    status = world.execution_status(execution_id)
    where = f"execution {execution_id} ({alice.value}/{bob.value})"

    assert audited == ssm, where
    assert max(ssm.values()) == 1, where  # nobody decided twice
    if Verdict.REJECT in (alice, bob):
        assert status == "Failed", where
        assert any(v == "Reject" for _, v in ssm), where
        expected = "Rejected"
    else:
        assert status == "Success", where
        assert set(ssm) == {(ALICE, "Approve"), (BOB, "Approve")}, where
        expected = "Approved"
    outcomes = [r for r in audit if r["event"] == "outcome"]
    assert len(outcomes) == 1, where
    text = json.dumps(the_card(world, execution_id, cards)["blocks"])
    assert f"*{expected}*" in text, where
    assert ACTION_APPROVE not in text, where
    thread = [r["text"] for r in cards[0].get("replies", [])]
    for user in ("U0ALICE", "U0BOB"):
        told = [
            t for t in thread if t.startswith((f":white_check_mark: <@{user}>", f":x: <@{user}>"))
        ]
        assert len(told) == sum(1 for p, _ in ssm if p.endswith(user)), (where, thread)
