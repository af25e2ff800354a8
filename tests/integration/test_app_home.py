"""The App Home tab through the real adapter: opened, it lists what waits for the person; its
Approve decides exactly as the card's does; it follows new approvals and decisions by itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.views import ACTION_APPROVE
from bot.views.home import ACTION_HOME_APPROVE, ACTION_HOME_REJECT
from tests.support.world import ACCOUNT, APPROVAL_DOCUMENT, APPROVER_ROLE, OTHER_ROLE, World

ALICE_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/SignoffApprover/U0ALICE"
BOB_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/SignoffApprover/U0BOB"


def home_text(home: dict[str, Any] | None) -> str:
    assert home is not None, "no Home tab published"
    return json.dumps(home["blocks"], ensure_ascii=False)


def test_opening_the_home_tab_lists_the_approval_waiting_for_the_person(world: World) -> None:
    world.map_user("U0ALICE", "alice")
    world.map_user("U0BOB", "bob", role_arn=OTHER_ROLE)
    world.start_approval([APPROVER_ROLE], message="Deploy build 42 to prod")

    alice = home_text(world.open_home("alice"))
    bob = home_text(world.open_home("bob"))

    assert "Waiting for you (1)" in alice
    assert "Deploy build 42 to prod" in alice
    assert ACTION_HOME_APPROVE in alice and ACTION_HOME_REJECT in alice
    # Bob's role is not among the approvers: nothing waits for him.
    assert "Deploy build 42 to prod" not in bob
    assert "Nothing waits for your decision" in bob


def test_approve_from_home_decides_posts_in_the_thread_and_updates_the_home(
    world: World,
) -> None:
    world.map_user("U0ALICE", "alice")
    execution_id = world.start_approval([APPROVER_ROLE], message="Deploy build 42 to prod")
    world.open_home("alice")

    world.decide_from_home("alice", ACTION_HOME_APPROVE, "LGTM from home", about="build 42")

    assert world.execution_status(execution_id) == "Success"
    assert any("<@U0ALICE> approved: LGTM from home (via Slack)" in t for t in world.thread())
    assert "Approved* by <@U0ALICE>" in world.card_text()
    # Republished without being opened again: gone from the list, under her decisions.
    alice = home_text(world.home("alice"))
    assert "Nothing waits for your decision" in alice
    assert "Recently decided by you (1)" in alice
    assert "LGTM from home" in alice
    assert f"Approval: {APPROVAL_DOCUMENT} · execution `{execution_id}`" in alice


def test_a_new_approval_appears_on_the_home_of_everyone_who_may_decide_it(world: World) -> None:
    world.map_user("U0ALICE", "alice")
    world.map_user("U0BOB", "bob")
    world.open_home("alice")
    assert "Nothing waits for your decision" in home_text(world.home("alice"))

    world.start_approval([APPROVER_ROLE], message="Rotate the database password")

    # Neither opened the Home again: the notice republished both.
    assert "Rotate the database password" in home_text(world.home("alice"))
    assert "Rotate the database password" in home_text(world.home("bob"))


def test_a_stale_home_button_is_refused_like_the_card_and_the_home_redrawn(
    world: World,
) -> None:
    world.map_user("U0ALICE", "alice")
    world.map_user("U0BOB", "bob")
    world.start_approval([ALICE_SESSION, BOB_SESSION], min_required=2, message="Deploy build 42")
    stale = world.open_home("alice")
    assert stale is not None
    world.decide("alice", ACTION_APPROVE, comment="from the card")
    assert "Deploy build 42 to prod" not in home_text(world.home("alice"))
    # Her Home as Slack still showed it when the republish had not landed yet (a race).
    with world.emulator.state.lock:
        world.emulator.state.homes["U0ALICE"] = stale

    block_id = next(b["block_id"] for b in stale["blocks"] if b["type"] == "actions")
    world.control(
        "POST",
        "click",
        json={
            "user": "alice",
            "view_id": stale["id"],
            "action_id": ACTION_HOME_APPROVE,
            "block_id": block_id,
        },
    )
    world.settle()

    [modal] = world.views("alice")
    assert modal["title"] == "Not possible"
    assert "already decided" in json.dumps(modal["blocks"])
    assert "Deploy build 42 to prod" not in home_text(world.home("alice"))
    assert sum("<@U0ALICE> approved" in t for t in world.thread()) == 1


def test_the_messages_tab_publishes_nothing(world: World) -> None:
    world.map_user("U0ALICE", "alice")
    reply = world.control("POST", "home", json={"user": "alice", "tab": "messages"})
    world.settle()

    assert reply["status"] == 200
    assert world.home("alice") is None


@pytest.mark.parametrize(
    ("value", "block_id"),
    [
        ("not-an-execution:approve", "home|C0APPROVALS|1.2|x"),
        ("00000000-0000-4000-8000-000000000001:approve", "decide:3:elsewhere"),
    ],
    ids=["value-names-no-execution", "block-names-no-card"],
)
def test_a_home_button_signoff_never_drew_opens_nothing(
    world: World, value: str, block_id: str
) -> None:
    world.map_user("U0ALICE", "alice")
    world.open_home("alice")
    # A Home as only a hand-made (signed) request could carry: Signoff draws neither.
    with world.emulator.state.lock:
        home = world.emulator.state.homes["U0ALICE"]
        home["blocks"].append(
            {
                "type": "actions",
                "block_id": block_id,
                "elements": [
                    {
                        "type": "button",
                        "action_id": ACTION_HOME_APPROVE,
                        "value": value,
                        "text": {"type": "plain_text", "text": "Approve"},
                    }
                ],
            }
        )

    reply = world.control(
        "POST",
        "click",
        json={
            "user": "alice",
            "view_id": home["id"],
            "action_id": ACTION_HOME_APPROVE,
            "block_id": block_id,
        },
    )
    world.settle()

    assert reply["status"] == 200
    assert world.views("alice") == []
