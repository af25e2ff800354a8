"""Every message and view the bot builds, with the worst input it can meet, within Slack's limits.

Checked twice: by slack_sdk's own models (each block's and view's `validate_json`, which `to_dict`
runs before every post, so a breach is a failed post), and against the limits Slack documents
(https://docs.slack.dev/reference/block-kit/blocks, the modal view reference, chat.postMessage's
40,000-character text), some of which slack_sdk does not encode.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot import views
from bot.access_key_models import KeyOutcome, KeyRequest, KeyStatus, OutcomeKind
from bot.models import Approval, Decision, DecisionTarget, FlowState, LevelState, Outcome, Verdict

# Worst cases: SSM's own maxima where it has them, else far beyond anything plausible.
ACCT = "123456789012"
LONG_ROLE = "R" * 64  # IAM role names: at most 64 characters
LONG_SESSION = "s" * 64  # role session names: at most 64
HOSTILE = "<!channel> &<>*_~`|" * 300  # escapes grow it: & → &amp;
EXECUTION_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
STEP = "S" * 128
NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)

MESSAGE_BLOCKS_MAX = 50
MODAL_BLOCKS_MAX = 100
TEXT_MAX = 40_000  # chat.postMessage truncates text beyond it
LIMITS = {  # (block or element type, key) -> max characters
    ("header", "text"): 150,
    ("section", "text"): 3000,
    ("section", "field"): 2000,
    ("context", "element"): 3000,
    ("button", "text"): 75,
    ("button", "value"): 2000,
    ("input", "label"): 2000,
    ("input", "hint"): 2000,
}
ID_MAX = 255  # block_id, action_id, callback_id, external_id


def principals(count: int) -> list[str]:
    """Approvers as long as IAM lets them be: assumed-role sessions that are not Slack ids."""
    return [
        f"arn:aws:sts::{ACCT}:assumed-role/{LONG_ROLE}/{LONG_SESSION[:-2]}{i:02d}"
        for i in range(count)
    ]


def approval(
    outcome: Outcome, *, decisions: int = 50, verdict: Verdict = Verdict.APPROVE
) -> Approval:
    people = principals(decisions)
    return Approval(
        execution_id=EXECUTION_ID,
        step_name=STEP,
        document_name="D" * 128,  # SSM document names: at most 128
        region="ap-southeast-3",
        outcome=outcome,
        approvers=tuple(principals(10)),  # aws:approve takes at most 10 approvers
        min_required=10,
        message=HOSTILE[:4096],  # the Message input: at most 4096
        description=HOSTILE,
        executed_by=f"arn:aws:sts::{ACCT}:assumed-role/{LONG_ROLE}/{LONG_SESSION}",
        started_at=NOW,
        timeout_at=NOW + timedelta(days=7),
        # ApproverDecisions holds at most 50 entries (an output list's maximum).
        decisions=tuple(Decision(p, verdict, NOW, comment="&" * views.COMMENT_MAX) for p in people),
        parameters={
            "RequesterSlackId": ("U0" + "X" * 30,),
            "IamUser": ("u" * 64,),
            "RequestReason": (HOSTILE[: views.KEY_REASON_MAX],),
        },
    )


def every_card() -> Iterator[tuple[str, Approval, views.CardContext | None]]:
    for outcome in Outcome:
        for verdict in Verdict:
            yield f"{outcome.value}-{verdict.value}", approval(outcome, verdict=verdict), None
    yield "level-30-of-30", approval(Outcome.WAITING), views.CardContext(level=30, levels=30)


def flow(levels: int = 30, outcome: Outcome = Outcome.REJECTED) -> FlowState:
    people = tuple(principals(10))
    return FlowState(
        flow_id=f"arn:aws:states:us-east-1:{ACCT}:execution:{'M' * 80}:{'r' * 80}",
        levels=tuple(
            LevelState(
                level=i,
                outcome=outcome if i == levels else Outcome.APPROVED,
                done=10,
                needed=10,
                approved_by=people,
                rejected_by=people,
            )
            for i in range(1, levels + 1)
        ),
        description=HOSTILE,
        outcome=outcome,
    )


def check_blocks(blocks: Sequence[Block], most: int) -> None:
    assert len(blocks) <= most
    for block in blocks:
        block.validate_json()
        check_block(block.to_dict())


def check_block(block: dict[str, Any]) -> None:
    kind = block["type"]
    assert len(block.get("block_id", "")) <= ID_MAX
    if kind in ("header", "section") and "text" in block:
        assert len(block["text"]["text"]) <= LIMITS[(kind, "text")], kind
    for field in block.get("fields", []):
        assert len(field["text"]) <= LIMITS[("section", "field")]
    assert len(block.get("fields", [])) <= 10
    if kind == "context":
        assert len(block["elements"]) <= 10
        for element in block["elements"]:
            assert len(element["text"]) <= LIMITS[("context", "element")]
    if kind == "actions":
        assert len(block["elements"]) <= 25
        for element in block["elements"]:
            assert len(element["action_id"]) <= ID_MAX
            assert len(element["text"]["text"]) <= LIMITS[("button", "text")]
            assert len(element.get("value", "")) <= LIMITS[("button", "value")]
    if kind == "input":
        assert len(block["label"]["text"]) <= LIMITS[("input", "label")]
        assert len(block.get("hint", {}).get("text", "")) <= LIMITS[("input", "hint")]
        assert len(block["element"]["action_id"]) <= ID_MAX


def check_message(text: str, blocks: Sequence[Block] = ()) -> None:
    assert 0 < len(text) <= TEXT_MAX
    check_blocks(blocks, MESSAGE_BLOCKS_MAX)


def check_view(view: View) -> None:
    view.validate_json()
    data = view.to_dict()
    for key in ("title", "submit", "close"):
        if key in data:
            assert len(data[key]["text"]) <= 24, key
    assert len(data.get("private_metadata", "")) <= 3000
    assert len(data.get("callback_id", "")) <= ID_MAX
    assert len(data.get("external_id", "")) <= ID_MAX
    check_blocks(view.blocks, MODAL_BLOCKS_MAX)


@pytest.mark.parametrize(
    ("item", "context"),
    [(a, c) for _, a, c in every_card()],
    ids=[name for name, _, _ in every_card()],
)
def test_every_card_state_fits(item: Approval, context: views.CardContext | None) -> None:
    check_message(views.card_text(item), views.approval_card(item, context))


@pytest.mark.parametrize("outcome", list(Outcome), ids=[o.value for o in Outcome])
def test_every_thread_message_about_an_approval_fits(outcome: Outcome) -> None:
    item = approval(outcome)
    check_message(views.outcome_text(item))
    check_message(views.reminder_text(item, ["U0" + "X" * 30] * 10))
    for verdict in Verdict:
        check_message(
            views.decision_text(principals(1)[0], verdict, "&" * views.COMMENT_MAX, via="x" * 64)
        )


def target(verdict: Verdict) -> DecisionTarget:
    return DecisionTarget(EXECUTION_ID, STEP, verdict, "C" * 11, "1796623278.640257")


@pytest.mark.parametrize("verdict", list(Verdict), ids=[v.value for v in Verdict])
def test_the_decision_modal_fits(verdict: Verdict) -> None:
    view = views.decision_modal(target(verdict), HOSTILE, external_id="decide:U0ALICE:1.2")
    check_view(view)
    assert DecisionTarget.loads(view.private_metadata or "") == target(verdict)


def test_notice_modals_fit() -> None:
    check_view(views.notice_modal("T" * 200, HOSTILE))
    request = KeyRequest("U0ALICE", "u" * 64, HOSTILE, EXECUTION_ID)
    check_view(views.key_request_started_modal(request))
    check_view(views.key_request_modal())


def test_key_request_texts_fit() -> None:
    request = KeyRequest("U0ALICE", "u" * 64, HOSTILE, EXECUTION_ID)
    check_message(views.key_request_started_text(request))
    check_message(views.key_request_refused_text(HOSTILE))
    for field in ("iam_user", "reason", "other"):
        [(block, error)] = views.key_request_errors(field, HOSTILE).items()
        assert len(block) <= ID_MAX and len(error) <= 2000


@pytest.mark.parametrize("kind", list(OutcomeKind), ids=[k.value for k in OutcomeKind])
@pytest.mark.parametrize("refusal", [None, *KeyStatus], ids=["none", *[s.value for s in KeyStatus]])
def test_key_outcome_messages_fit(kind: OutcomeKind, refusal: KeyStatus | None) -> None:
    outcome = KeyOutcome(
        kind=kind,
        execution_id=EXECUTION_ID,
        iam_user="u" * 64,
        requester="U0ALICE",
        secret_name="p" * 200 + "/access-key-20261123T101500Z",
        refusal=refusal,
        decided_by=tuple(principals(50)),
        comment="&" * views.COMMENT_MAX,
        failure=HOSTILE,
    )
    check_message(views.key_outcome_dm(outcome))
    check_message(views.key_outcome_thread(outcome))


@pytest.mark.parametrize("outcome", list(Outcome), ids=[o.value for o in Outcome])
def test_a_thirty_level_flow_fits(outcome: Outcome) -> None:
    state = flow(30, outcome)
    check_message(views.flow_root_text(state), views.flow_root(state))
    check_message(views.flow_outcome_text(state, error=HOSTILE))
    for level in state.levels:
        check_message(
            views.level_pointer_text(
                state, level, "C0APPROVALS", "https://x.slack.com/" + "p" * 200
            ),
            views.level_pointer(state, level, "C0APPROVALS", "https://x.slack.com/" + "p" * 200),
        )
        check_message(views.late_result_text(level, 30, "States." + "E" * 250, "FAILED"))
