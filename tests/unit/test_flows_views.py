"""The flow thread's views: the ladder, the root message, the outcome, the level pointer."""

from __future__ import annotations

from slack_sdk.models.blocks import HeaderBlock

from bot import views
from bot.models import FlowState, LevelState, Outcome, flow_name

ACCT = "123456789012"
FLOW = f"arn:aws:states:us-east-1:{ACCT}:execution:ApprovalFlow:deploy-42"
ALICE = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0ALICE"
BOB = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0BOB"
CAROL = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0CAROL"
CAROL_ELSEWHERE = f"arn:aws:sts::{ACCT}:assumed-role/SomeOtherRole/U0CAROL"
# Who Signoff's mapping says these principals are (ApprovalService.people resolves it).
PEOPLE = {ALICE: "U0ALICE", BOB: "U0BOB", CAROL: "U0CAROL"}


def flow(*levels: LevelState, outcome: Outcome = Outcome.WAITING) -> FlowState:
    return FlowState(
        flow_id=FLOW,
        levels=levels,
        description="Prod <deploy> & more",
        outcome=outcome,
        people=PEOPLE,
    )


APPROVED_1 = LevelState(1, Outcome.APPROVED, 1, 1, approved_by=(ALICE,))
WAITING_2 = LevelState(2, Outcome.WAITING, 1, 2, approved_by=(BOB,))
NOT_STARTED_3 = LevelState(3)


def test_the_ladder_reads_as_the_issue_shows_it() -> None:
    assert views.ladder_line(flow(APPROVED_1, WAITING_2, NOT_STARTED_3)) == (
        "level 1 ✓ approved by <@U0ALICE> · level 2 ⏳ 1 of 2 · level 3 \u2013"
    )


def test_each_closed_level_says_how_it_ended() -> None:
    steps = [
        views.ladder_step(LevelState(2, Outcome.REJECTED, 0, 1, rejected_by=(BOB,)), PEOPLE),
        views.ladder_step(LevelState(1, Outcome.TIMED_OUT, 0, 1)),
        views.ladder_step(LevelState(1, Outcome.CANCELLED)),
        views.ladder_step(LevelState(1, Outcome.FAILED)),
    ]
    assert steps == [
        "level 2 ✗ rejected by <@U0BOB>",
        "level 1 ⏰ timed out",
        "level 1 ⊘ cancelled",
        "level 1 ⚠ failed",
    ]


def test_many_approvers_are_shortened() -> None:
    many = (ALICE, BOB, CAROL, "arn:aws:iam::123456789012:user/dave")
    step = views.ladder_step(LevelState(1, Outcome.APPROVED, 4, 4, approved_by=many), PEOPLE)
    assert step == "level 1 ✓ approved by <@U0ALICE>, <@U0BOB>, <@U0CAROL> +1"


def test_a_level_decided_by_a_session_merely_named_like_a_person_shows_the_principal() -> None:
    # Carol is mapped, but to SignoffApprover: a session of another role named U0CAROL is not her.
    shown = "`assumed-role/SomeOtherRole/U0CAROL`"
    approved = LevelState(1, Outcome.APPROVED, 1, 1, approved_by=(CAROL_ELSEWHERE,))
    rejected = LevelState(2, Outcome.REJECTED, 0, 1, rejected_by=(CAROL_ELSEWHERE,))
    state = flow(approved, rejected, NOT_STARTED_3, outcome=Outcome.REJECTED)
    texts = [
        views.ladder_line(state),
        views.flow_root_text(state),
        str([b.to_dict() for b in views.flow_root(state)]),
        views.flow_outcome_text(state),
        views.level_pointer_text(state, approved, "C0ROOT"),
    ]
    for text in texts:
        assert "<@U0CAROL>" not in text and shown in text
    assert views.ladder_step(approved) == f"level 1 ✓ approved by {shown}"


def test_root_message_names_the_flow_links_the_execution_and_escapes_text() -> None:
    state = flow(APPROVED_1, WAITING_2, NOT_STARTED_3)
    blocks = views.flow_root(state)
    text = str([b.to_dict() for b in blocks])
    assert isinstance(blocks[0], HeaderBlock)
    assert "Approval flow: ApprovalFlow/deploy-42" in text
    assert "Prod &lt;deploy&gt; &amp; more" in text
    assert views.ladder_line(state) in text
    assert "level 2 of 3 waits for approval" in text
    assert f"#/v2/executions/details/{FLOW}|ApprovalFlow/deploy-42>" in text
    assert views.flow_root_text(state).startswith("Approval flow ApprovalFlow/deploy-42: level 1")


def test_status_line_follows_the_flow() -> None:
    rejected = LevelState(2, Outcome.REJECTED, 0, 2, rejected_by=(BOB,))
    timed_out = LevelState(1, Outcome.TIMED_OUT, 0, 1)
    approved = [LevelState(n, Outcome.APPROVED, 1, 1, (ALICE,)) for n in (1, 2, 3)]
    assert "*Rejected* at level 2 of 3" in views.flow_status_line(
        flow(APPROVED_1, rejected, NOT_STARTED_3, outcome=Outcome.REJECTED)
    )
    assert "*Stopped* — level 1 of 2 timed out" in views.flow_status_line(
        flow(timed_out, LevelState(2), outcome=Outcome.TIMED_OUT)
    )
    assert "all 3 levels approved" in views.flow_status_line(
        flow(*approved, outcome=Outcome.APPROVED)
    )


def test_outcome_texts_say_what_happened_and_what_will_not() -> None:
    rejected = LevelState(2, Outcome.REJECTED, 0, 2, rejected_by=(BOB,))
    timed_out = LevelState(1, Outcome.TIMED_OUT, 0, 1)
    approved = [LevelState(n, Outcome.APPROVED, 1, 1, (ALICE,)) for n in (1, 2, 3)]
    assert views.flow_outcome_text(
        flow(APPROVED_1, rejected, NOT_STARTED_3, outcome=Outcome.REJECTED)
    ) == (":no_entry: *Flow rejected* at level 2 of 3 by <@U0BOB>. Level 3 will not start.")
    stopped = views.flow_outcome_text(
        flow(timed_out, LevelState(2), NOT_STARTED_3, outcome=Outcome.TIMED_OUT),
        "Signoff.ApprovalTimedOut",
    )
    assert "level 1 of 3 timed out with 0 of 1 approvals" in stopped
    assert "`Signoff.ApprovalTimedOut`" in stopped and "Levels 2\u20133 will not start" in stopped
    assert "*Flow approved*: all 3 levels" in views.flow_outcome_text(
        flow(*approved, outcome=Outcome.APPROVED)
    )


def test_late_result_names_the_code_and_the_flow_status() -> None:
    level = LevelState(2, Outcome.APPROVED, 1, 1, (ALICE,))
    text = views.late_result_text(level, 3, "TaskTimedOut", "FAILED")
    assert "Level 2 of 3 ended (approved)" in text
    assert "`TaskTimedOut`" in text and "The flow's execution is FAILED." in text


def test_level_pointer_points_to_the_thread_and_later_says_how_the_level_ended() -> None:
    state = flow(APPROVED_1, WAITING_2, NOT_STARTED_3)
    waiting = views.level_pointer_text(state, WAITING_2, "C0ROOT")
    assert "Level 2 of 3 of *ApprovalFlow/deploy-42* needs approval" in waiting
    assert "<#C0ROOT>" in waiting
    done = LevelState(2, Outcome.APPROVED, 2, 2, (BOB, CAROL))
    closed = views.level_pointer_text(state, done, "C0ROOT")
    assert "approved by <@U0BOB>, <@U0CAROL>" in closed and "<#C0ROOT>" in closed
    assert views.level_pointer(state, done, "C0ROOT")[0].to_dict()["text"]["text"] == closed


def test_level_pointer_links_the_thread_when_it_has_a_permalink() -> None:
    state = flow(APPROVED_1, WAITING_2, NOT_STARTED_3)
    link = "https://signoff.slack.com/archives/C0ROOT/p1700000000000100"
    waiting = views.level_pointer_text(state, WAITING_2, "C0ROOT", link)
    assert f"Its card is in <{link}|the flow's thread> in <#C0ROOT>." in waiting
    done = LevelState(2, Outcome.APPROVED, 2, 2, (BOB, CAROL))
    closed = views.level_pointer_text(state, done, "C0ROOT", link)
    assert closed.endswith(f"<{link}|The flow's thread> is in <#C0ROOT>.")
    # A reply's permalink carries a query: "&" is escaped as in any message text.
    reply = f"{link}?thread_ts=1700000000.000100&cid=C0ROOT"
    assert "?thread_ts=1700000000.000100&amp;cid=C0ROOT|" in views.level_pointer_text(
        state, WAITING_2, "C0ROOT", reply
    )
    for odd in ("javascript:alert(1)", "https://x.example/a|b", "https://x.example/a>b", ""):
        text = views.level_pointer_text(state, WAITING_2, "C0ROOT", odd)
        assert "Its card is in the flow's thread in <#C0ROOT>." in text


def test_flow_name_falls_back_to_the_id() -> None:
    assert flow_name("not-an-arn") == "not-an-arn"
