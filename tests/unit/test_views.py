import re
from datetime import UTC, datetime

from slack_sdk.models.blocks import ActionsBlock, HeaderBlock

from bot import views
from bot.models import Approval, Decision, DecisionTarget, Outcome, Verdict

ACCT = "123456789012"
ALICE = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0ALICE"
BOB = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0BOB"
# Who Signoff's mapping says these principals are (ApprovalService.people resolves it).
PEOPLE = {ALICE: "U0ALICE", BOB: "U0BOB"}


def approval(**changes: object) -> Approval:
    base: dict[str, object] = {
        "execution_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "step_name": "ApprovalAction",
        "document_name": "Deploy-Prod",
        "region": "us-east-1",
        "outcome": Outcome.WAITING,
        "approvers": (f"arn:aws:iam::{ACCT}:role/SignoffApprover",),
        "min_required": 2,
        "message": "Deploy build 42 to prod",
        "description": "Production deploy",
        "executed_by": f"arn:aws:iam::{ACCT}:user/ci",
        "started_at": datetime(2026, 11, 23, 10, tzinfo=UTC),
        "timeout_at": datetime(2026, 11, 30, 10, tzinfo=UTC),
    }
    base.update(changes)
    return Approval(**base)  # type: ignore[arg-type]


def as_text(blocks: list) -> str:
    return str([b.to_dict() for b in blocks])


def test_waiting_card_shows_what_who_quorum_deadline_link_and_buttons() -> None:
    blocks = views.approval_card(approval())
    text = as_text(blocks)
    assert isinstance(blocks[0], HeaderBlock)
    assert "Deploy-Prod" in text and "Production deploy" in text and "build 42" in text
    assert "user/ci" in text  # who started it
    assert "0 of 2 approvals" in text
    assert "<!date^1796032800^" in text  # the timeout, in each reader's time zone
    assert "console.aws.amazon.com/systems-manager/automation/execution/" in text
    actions = [b for b in blocks if isinstance(b, ActionsBlock)]
    assert [e.action_id for e in actions[0].elements] == [views.ACTION_APPROVE, views.ACTION_REJECT]
    assert actions[0].elements[0].value == "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d:ApprovalAction"


def test_progress_names_the_last_decider_and_their_comment() -> None:
    card = approval(decisions=(Decision(ALICE, Verdict.APPROVE, comment="LGTM"),))
    assert "1 of 2 approvals* — <@U0ALICE> approved: LGTM" in views.status_line(card, PEOPLE)


def test_closed_cards_have_no_buttons_and_say_the_outcome() -> None:
    for outcome, word in [
        (Outcome.APPROVED, "Approved"),
        (Outcome.TIMED_OUT, "Timed out"),
        (Outcome.CANCELLED, "Cancelled"),
    ]:
        blocks = views.approval_card(approval(outcome=outcome))
        assert not [b for b in blocks if isinstance(b, ActionsBlock)]
        assert word in views.status_line(approval(outcome=outcome))
    rejected = approval(
        outcome=Outcome.REJECTED, decisions=(Decision(BOB, Verdict.REJECT, comment="not now"),)
    )
    assert "Rejected* — <@U0BOB> rejected: not now" in views.status_line(rejected, PEOPLE)


def test_user_text_is_escaped_and_truncated_to_block_kit_limits() -> None:
    hostile = "<!channel> <https://evil.example|click> & " + "x" * 5000
    blocks = views.approval_card(approval(message=hostile, document_name="D" * 300))
    for block in blocks:
        block.validate_json()  # slack_sdk enforces Block Kit's limits
    text = as_text(blocks)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "&amp;" in text


def test_access_key_card_says_who_asked_for_whom_and_why() -> None:
    card = approval(
        parameters={
            "RequesterSlackId": ("U0DAVE",),
            "IamUser": ("dave",),
            "RequestReason": ("CI deploy key",),
        }
    )
    text = as_text(views.approval_card(card))
    assert "<@U0DAVE>" in text and "`dave`" in text and "CI deploy key" in text


def test_reject_modal_requires_a_reason_and_approve_comment_is_optional() -> None:
    target = DecisionTarget("e", "s", Verdict.REJECT, "C1", "1.2")
    modal = views.decision_modal(target, "Deploy?", external_id="x").to_dict()
    assert modal["blocks"][1]["optional"] is False
    assert DecisionTarget.loads(modal["private_metadata"]) == target
    assert views.comment_errors(Verdict.REJECT, "  ") == {
        views.COMMENT_BLOCK: views.comment_errors(Verdict.REJECT, "")[views.COMMENT_BLOCK]
    }
    assert views.comment_errors(Verdict.APPROVE, "") == {}
    assert "512" in views.comment_errors(Verdict.APPROVE, "x" * 513)[views.COMMENT_BLOCK]
    approve = views.decision_modal(
        DecisionTarget("e", "s", Verdict.APPROVE, "C1", "1.2"), "Deploy?"
    ).to_dict()
    assert approve["blocks"][1]["optional"] is True


def test_console_decisions_are_named_by_their_arn() -> None:
    # As inline code: a role or user name's `_` and `*` stay as they are, and format nothing.
    assert views.principal_label(f"arn:aws:iam::{ACCT}:user/admin") == "`user/admin`"
    assert views.principal_label(ALICE, {ALICE: "U0ALICE"}) == "<@U0ALICE>"
    assert (
        views.principal_label(f"arn:aws:sts::{ACCT}:assumed-role/Ops_Team/jane@x", {})
        == "`assumed-role/Ops_Team/jane@x`"
    )


def test_a_session_name_alone_never_makes_a_mention() -> None:
    # Without the mapping's word for it, no principal is a person, however its session is named.
    for principal in (ALICE, f"arn:aws:sts::{ACCT}:assumed-role/SomeOtherRole/U0CAROL"):
        session = principal.rsplit("/", 1)[-1]
        for people in (None, {}, {f"arn:aws:sts::{ACCT}:assumed-role/Other/{session}": session}):
            label = views.principal_label(principal, people)
            assert "<@" not in label and label == f"`{principal.split(':', 5)[-1]}`"


def test_a_session_named_like_a_slack_user_is_not_that_person_without_the_mapping() -> None:
    carol_elsewhere = f"arn:aws:sts::{ACCT}:assumed-role/SomeOtherRole/U0CAROL"
    card = approval(decisions=(Decision(carol_elsewhere, Verdict.APPROVE, comment="ok"),))
    people = {ALICE: "U0ALICE"}  # what the mapping vouches for; carol is not in it this way

    shown = [
        views.status_line(card, people),
        views.decision_text(carol_elsewhere, Verdict.APPROVE, "ok", people=people),
    ]

    for text in shown:
        assert "<@U0CAROL>" not in text
        assert "`assumed-role/SomeOtherRole/U0CAROL`" in text


# -- people, not ARNs ------------------------------------------------------------------------

ROLE = f"arn:aws:iam::{ACCT}:role/SignoffApprover"
OTHER_ROLE = f"arn:aws:iam::{ACCT}:role/Release-Managers"


def _approvers_field(blocks: list) -> str:
    [fields] = [b.fields for b in blocks if getattr(b, "fields", None)]
    [field] = [f.text for f in fields if f.text.startswith("*Approvers*")]
    return field


def test_approvers_read_as_the_people_mapped_to_each_role_with_the_role_underneath() -> None:
    card = approval(approvers=(ROLE, OTHER_ROLE, "ci-bot"))
    field = _approvers_field(
        views.approval_card(card, approvers={ROLE: ("U0ALICE", "U0BOB"), "ci-bot": ()})
    )
    assert field.splitlines() == [
        "*Approvers*",
        "<@U0ALICE>, <@U0BOB>",
        "`role/SignoffApprover`",
        # Nobody mapped: the principal as it is.
        "`role/Release-Managers`",
        "`ci-bot`",
    ]


def test_approver_people_can_never_be_markup_and_many_of_them_fit_the_field() -> None:
    hostile = "U0X> <!channel"
    card = approval(approvers=(ROLE,))
    many = tuple(f"U0P{i:05d}" for i in range(400))
    field = _approvers_field(views.approval_card(card, approvers={ROLE: (hostile, *many)}))
    assert "<!channel" not in field and "<@U0X>" not in field
    assert "<@U0P00000>" in field and len(field) <= 2000
    # A role's list cut short says so, and each mention is whole.
    assert field.endswith("…") or "+" in field
    assert not re.search(r"<@[^>]*$", field.rsplit("\n", 1)[0])


def test_without_a_resolved_list_approvers_show_as_principals() -> None:
    field = _approvers_field(views.approval_card(approval()))
    assert field == "*Approvers*\n`role/SignoffApprover`"


def test_the_requester_is_a_mention_and_anything_else_stays_inert() -> None:
    card = approval(parameters={"RequesterSlackId": ("U0DAVE",)})
    assert "*Requested by*\\n<@U0DAVE>" in as_text(views.approval_card(card))
    odd = approval(parameters={"RequesterSlackId": ("<!here>",)})
    text = as_text(views.approval_card(odd))
    assert "<!here>" not in text and "`&lt;!here&gt;`" in text


FLOW = "arn:aws:states:us-east-1:123456789012:execution:Release-Train:run-42"
STARTER = (
    f"arn:aws:sts::{ACCT}:assumed-role/signoff-StartApprovalRole-1A2B3C4D5E6F/"
    "signoff-start-approval"
)


def _started_by(blocks: list) -> str:
    [fields] = [b.fields for b in blocks if getattr(b, "fields", None)]
    [field] = [f.text for f in fields if f.text.startswith("*Started by*")]
    return field


def test_a_flow_levels_card_is_one_line_and_the_buttons() -> None:
    card = approval(executed_by=STARTER, description="Ship release 42")
    context = views.CardContext(level=2, levels=3, flow_id=FLOW)
    line, buttons = views.approval_card(card, context, approvers={ROLE: ("U0ALICE", "U0BOB")})
    assert isinstance(buttons, ActionsBlock)
    text = line.text.text
    assert text.startswith(":hourglass_flowing_sand: *Level 2 of 3* (<https://")
    assert (
        "· Ship release 42 · <@U0ALICE>, <@U0BOB> to decide · 0 of 2 approvals · times out" in text
    )
    # Signoff's start role is not who asked: the flow is, and its root message says so.
    assert "StartApprovalRole" not in text and "signoff-start-approval" not in text


def test_a_decided_levels_card_is_one_line_that_says_how_it_ended() -> None:
    decided = approval(
        outcome=Outcome.APPROVED,
        min_required=1,
        decisions=(Decision(ALICE, Verdict.APPROVE, comment="ok"),),
    )
    context = views.CardContext(level=1, levels=3, flow_id=FLOW)
    [line] = views.approval_card(decided, context, people={ALICE: "U0ALICE"})
    assert line.text.text.startswith(":white_check_mark: *Level 1 of 3* (<https://")
    assert line.text.text.endswith(" · *Approved* by <@U0ALICE>")


def test_a_flow_id_that_could_be_markup_is_shown_inert() -> None:
    hostile = "arn:aws:states:us-east-1:1:execution:M`<!here>|x:run> <@U0X>"
    field = _started_by(views.approval_card(approval(), views.CardContext(flow_id=hostile)))
    # No link (its URL would break out of <…|…>), no mention, no broadcast: all inert text.
    assert field.startswith("*Started by*\nFlow `") and "<" not in field
