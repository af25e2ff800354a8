"""The Home tab's view: what a person sees, and within Slack's limits with the worst inputs."""

from __future__ import annotations

import json
from datetime import timedelta

import msgspec

from bot.models import CardRef, Decided, HomeState, MappedAs, Outcome, Request, Verdict, Waiting
from bot.views import home as home_view
from bot.views.text import escape
from tests.unit.test_views_block_kit_limits import (
    ACCT,
    EXECUTION_ID,
    HOSTILE,
    NOW,
    approval,
    check_view,
)

CARD = CardRef("C0APPROVALS", "1796623278.640257")
FLOW = f"arn:aws:states:us-east-1:{ACCT}:execution:{'M' * 80}:{'r' * 80}"


def worst_state(waiting: int = 100) -> HomeState:
    """As much as a Home can hold: every list past its cap, every text hostile and long."""
    item = approval(Outcome.WAITING)
    return HomeState(
        user="U0" + "X" * 30,
        waiting=tuple(
            Waiting(
                approval=msgspec.structs.replace(item, execution_id=f"{EXECUTION_ID[:-3]}{i:03d}"),
                card=CardRef("C" * 11, f"1796623278.{i:06d}"),
                since=NOW - timedelta(minutes=i),
                level=30,
                levels=30,
                flow_id=FLOW,
            )
            for i in range(min(waiting, home_view.WAITING_MAX))
        ),
        waiting_total=waiting,
        requests=tuple(
            Request("u" * 64, HOSTILE, EXECUTION_ID, state, NOW)
            for state in [*Outcome, None, *Outcome, None][: home_view.REQUESTS_MAX]
        ),
        decided=tuple(
            Decided(EXECUTION_ID, "S" * 128, verdict, NOW, comment="&" * 512)
            for verdict in [Verdict.APPROVE, Verdict.REJECT] * 5
        ),
        mapping=MappedAs.IAM_USER_ONLY,
        iam_user=HOSTILE[:64],
    )


def text(view: object) -> str:
    return json.dumps(view.to_dict()["blocks"], ensure_ascii=False)  # type: ignore[attr-defined]


def test_the_fullest_home_fits_slacks_limits() -> None:
    view = home_view.home_view(worst_state(), NOW)

    check_view(view)
    assert view.type == "home"


def test_past_the_cap_the_home_says_how_many_more_wait() -> None:
    shown = text(home_view.home_view(worst_state(100), NOW))

    assert "Waiting for you (100)" in shown
    assert f"…and {100 - home_view.WAITING_MAX} more" in shown


def test_each_waiting_approval_has_the_cards_buttons_and_says_where_its_card_is() -> None:
    item = approval(Outcome.WAITING)
    state = HomeState(user="U0ALICE", waiting=(Waiting(item, CARD, NOW),), waiting_total=1)

    view = home_view.home_view(state, NOW).to_dict()

    actions = [b for b in view["blocks"] if b["type"] == "actions"]
    [block] = actions
    approve, reject = block["elements"]
    assert approve["action_id"] == home_view.ACTION_HOME_APPROVE
    assert reject["action_id"] == home_view.ACTION_HOME_REJECT
    assert approve["value"] == reject["value"] == f"{item.execution_id}:{item.step_name}"
    assert home_view.parse_home_block_id(block["block_id"]) == CARD
    assert "<#C0APPROVALS>" in json.dumps(view["blocks"])


def test_user_text_cannot_ping_a_channel_or_break_out_of_a_link() -> None:
    shown = text(home_view.home_view(worst_state(3), NOW))

    assert "<!channel>" not in shown
    assert "&lt;!channel&gt;" in shown


def test_an_empty_home_says_so_in_each_section() -> None:
    shown = text(home_view.home_view(HomeState(user="U0ALICE"), NOW))

    assert "Nothing waits for your decision" in shown
    assert "No access-key requests from you lately" in shown
    assert "No decisions from you lately" in shown


def test_requests_and_decisions_show_their_state() -> None:
    state = HomeState(
        user="U0DAVE",
        requests=(
            Request("dave", "CI deploys", EXECUTION_ID, Outcome.APPROVED, NOW),
            Request("dave", "laptop", None, None, NOW),
        ),
        decided=(Decided(EXECUTION_ID, "approve", Verdict.REJECT, NOW, "not on a Friday"),),
    )

    shown = text(home_view.home_view(state, NOW))

    assert "Access key for `dave`* — Approved" in shown
    assert "— Starting" in shown
    assert "*Rejected*: not on a Friday" in shown


def test_a_decision_names_its_runbook_when_the_audit_recorded_it() -> None:
    named = Decided(EXECUTION_ID, "approve", Verdict.APPROVE, NOW, document_name="Deploy*Prod")
    older = Decided(EXECUTION_ID, "approve", Verdict.APPROVE, NOW)

    shown = [
        text(home_view.home_view(HomeState("U0ALICE", decided=(d,)), NOW)) for d in (named, older)
    ]

    # Escaped as every name in mrkdwn is, so a name cannot restyle the line.
    named_as = escape("Deploy*Prod")
    assert f"Approval: {named_as} · execution `{EXECUTION_ID}` · step `approve`" in shown[0]
    assert f"Execution `{EXECUTION_ID}` · step `approve`" in shown[1]  # written before names were


def test_a_block_id_that_is_not_a_home_entry_names_no_card() -> None:
    assert home_view.parse_home_block_id("decide:3:" + EXECUTION_ID) is None
    assert home_view.parse_home_block_id("home||1.2|x") is None
    assert home_view.parse_home_block_id(home_view.home_block_id(CARD, EXECUTION_ID)) == CARD


def test_a_person_who_cannot_decide_is_told_why_and_what_to_ask_for() -> None:
    unmapped = text(home_view.home_view(HomeState("U0EVE", mapping=MappedAs.NONE), NOW))
    keys_only = text(
        home_view.home_view(
            HomeState("U0DAVE", mapping=MappedAs.IAM_USER_ONLY, iam_user="dave"), NOW
        )
    )
    approver = text(home_view.home_view(HomeState("U0ALICE"), NOW))

    assert "not mapped to an AWS approver role" in unmapped
    assert "signoff users map U0EVE --role" in unmapped
    assert "mapped to IAM user `dave` (for access keys) but to no approver role" in keys_only
    assert "signoff users map" not in approver
