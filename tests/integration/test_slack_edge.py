"""Slack's edge, attacked as Slack would carry it: refused modals, lost refusals, odd values.

Every request here goes through the Function URL as Slack sends it (signed, lazy listeners
re-invoking the function through Lambda's Invoke API), by the Slack emulator or by hand.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import requests

from bot.models import DecisionTarget, Verdict
from bot.views import ACTION_APPROVE, ACTION_REJECT, VIEW_DECISION
from tests.support.signed import block_actions, signed_headers, signed_request
from tests.support.world import ACCOUNT, APPROVER_ROLE, OTHER_ROLE, SIGNING_SECRET, World

ALICE_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/SignoffApprover/U0ALICE"
BOB_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/SignoffApprover/U0BOB"


def decisions(world: World, execution_id: str) -> list[dict[str, str]]:
    outputs = world.approve_step(execution_id).get("Outputs", {})
    return [json.loads(d) for d in outputs.get("ApproverDecisions", [])]


def submit(world: World, user: str, view_id: str, comment: str) -> dict[str, object]:
    reply = world.control(
        "POST",
        "submit",
        json={"user": user, "view_id": view_id, "values": {"comment": {"comment_input": comment}}},
    )
    world.settle()
    return dict(reply)


def test_a_reject_the_modal_refused_is_never_sent(world: World) -> None:
    world.map_user("U0BOB", "bob")
    execution_id = world.start_approval([ALICE_SESSION, BOB_SESSION], min_required=2)
    world.click("bob", ACTION_REJECT)
    modal = world.views("bob")[-1]

    refused = submit(world, "bob", modal["id"], "   ")

    assert "Say why you reject" in json.dumps(refused)
    assert decisions(world, execution_id) == []  # no SendAutomationSignal reached SSM
    assert world.execution_status(execution_id) == "Waiting"
    assert not [e for e in world.audit(execution_id) if e["event"] == "decision"]
    # The modal is still open; with a reason, the same modal sends the rejection (nothing was
    # claimed as "on its way" by the refused one).
    submit(world, "bob", modal["id"], "Not during the freeze")
    [decision] = decisions(world, execution_id)
    assert decision["Approver"] == BOB_SESSION
    assert "Not during the freeze" in json.dumps(decision)
    assert not any("already on its way" in t for t in world.ephemeral("bob"))


def test_a_refusal_is_told_privately_even_when_the_modal_cannot_be_updated(
    world: World,
) -> None:
    world.map_user("U0CAROL", "carol", role_arn=OTHER_ROLE)
    execution_id = world.start_approval([APPROVER_ROLE])
    # Slack refuses the modal update (a burst of clicks, or the modal already closed).
    world.control("POST", "faults", json={"method": "views.update", "error": "not_found"})

    world.click("carol", ACTION_APPROVE)

    [note] = world.ephemeral("carol")
    assert "not among this execution's approvers" in note
    assert world.control("GET", "faults")["faults"] == []  # the fault was met
    assert decisions(world, execution_id) == []


def test_a_button_value_that_names_no_execution_is_ignored(world: World) -> None:
    world.map_user("U0ALICE", "alice")
    world.start_approval([APPROVER_ROLE])
    before = len(world.control("GET", "calls")["calls"])

    for value in ("not-a-uuid:ApprovalAction", "../../x", ""):
        payload = block_actions("U0ALICE", ACTION_APPROVE, value)
        body, headers = signed_request(payload, SIGNING_SECRET)
        response = requests.post(world.bot_url, data=body, headers=headers, timeout=10)
        assert response.status_code == 200
    world.settle()

    # No modal and no SSM call; a private note says why, quoting the value inertly.
    methods = [c["method"] for c in world.control("GET", "calls")["calls"][before:]]
    assert methods == ["chat.postEphemeral"] * 3
    assert world.views("alice") == []
    assert all("No automation execution" in t for t in world.ephemeral("alice"))


# -- replays: a captured request sent again inside Slack's 5-minute window ---------------------

LAZY = "x-slack-bolt-lazy-only"
LAZY_NAME = "x-slack-bolt-lazy-function-name"


def post(world: World, body: str, headers: dict[str, str], **extra: str) -> int:
    response = requests.post(world.bot_url, data=body, headers={**headers, **extra}, timeout=10)
    return response.status_code


def calls(world: World) -> list[dict[str, object]]:
    return list(world.control("GET", "calls")["calls"])


def fresh_trigger(world: World, user: str) -> str:
    """A trigger the emulator issued to `user`, unused (a command that opens no modal)."""
    reply = world.control(
        "POST", "command", json={"user": user, "command": "/request-key", "text": "x y"}
    )
    return str(reply["trigger_id"])


def test_a_replayed_click_is_refused_with_or_without_lazy_headers(world: World) -> None:
    world.map_user("U0ALICE", "alice")
    execution_id = world.start_approval([APPROVER_ROLE])
    payload = block_actions("U0ALICE", ACTION_APPROVE, f"{execution_id}:ApprovalAction")
    payload["trigger_id"] = fresh_trigger(world, "alice")
    body, headers = signed_request(payload, SIGNING_SECRET)

    assert post(world, body, headers) == 200
    world.settle()
    assert "Approve" in json.dumps(world.views("alice"))  # the original opened its modal
    before = calls(world)

    assert post(world, body, headers) == 401
    assert post(world, body, headers, **{LAZY: "1", LAZY_NAME: "on_card_click_check"}) == 401
    world.settle()

    assert calls(world) == before  # no modal, no note, nothing
    assert len(world.views("alice")) == 1


def test_a_forged_lazy_pass_of_a_request_never_acknowledged_is_refused(world: World) -> None:
    world.map_user("U0ALICE", "alice")
    execution_id = world.start_approval([ALICE_SESSION, BOB_SESSION], min_required=2)
    payload = decision_submission(world, "U0ALICE", execution_id)
    body, headers = signed_request(payload, SIGNING_SECRET)

    # Straight to the lazy part that sends the decision, skipping the ack (and its record).
    assert post(world, body, headers, **{LAZY: "1", LAZY_NAME: "on_decision_send"}) == 401
    world.settle()

    assert decisions(world, execution_id) == []


def test_a_replayed_decision_submission_is_refused_and_the_original_is_sent_once(
    world: World,
) -> None:
    world.map_user("U0ALICE", "alice")
    execution_id = world.start_approval([ALICE_SESSION, BOB_SESSION], min_required=2)
    body, headers = signed_request(
        decision_submission(world, "U0ALICE", execution_id), SIGNING_SECRET
    )

    assert post(world, body, headers) == 200
    world.settle()
    assert [d["Approver"] for d in decisions(world, execution_id)] == [ALICE_SESSION]
    before = calls(world)

    assert post(world, body, headers) == 401
    assert post(world, body, headers, **{LAZY: "1", LAZY_NAME: "on_decision_send"}) == 401
    world.settle()

    assert calls(world) == before  # not even "you have already decided"
    assert [d["Approver"] for d in decisions(world, execution_id)] == [ALICE_SESSION]


def test_a_replayed_slash_command_is_refused(world: World) -> None:
    started = world.control(
        "POST", "command", json={"user": "dave", "command": "/request-key", "text": ""}
    )
    fields = {
        "team_id": "T0SIGNOFF",
        "api_app_id": "A0SIGNOFF",
        "channel_id": "C0APPROVALS",
        "user_id": "U0DAVE",
        "user_name": "dave",
        "command": "/request-key",
        "text": "dave deploy key",
        "response_url": str(started["response_url"]),
        "trigger_id": str(started["trigger_id"]),
    }
    body = urlencode(fields)
    headers = signed_headers(body, SIGNING_SECRET)

    assert post(world, body, headers) == 200
    world.settle()
    answered = [c for c in calls(world) if c["method"] == "response_url"]
    assert answered, "the original command was answered"
    before = calls(world)

    assert post(world, body, headers) == 401
    assert (
        post(world, body, headers, **{LAZY: "1", LAZY_NAME: "on_command_request_key_start"}) == 401
    )
    world.settle()

    assert calls(world) == before


def decision_submission(world: World, user: str, execution_id: str) -> dict[str, object]:
    target = DecisionTarget(
        execution_id=execution_id,
        step_name="ApprovalAction",
        verdict=Verdict.APPROVE,
        channel="C0APPROVALS",
        ts=str(world.card()["ts"]),
    )
    return {
        "type": "view_submission",
        "team": {"id": "T0SIGNOFF", "domain": "signoff-sandbox"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0SIGNOFF"},
        "api_app_id": "A0SIGNOFF",
        "trigger_id": "1.2.3",
        "view": {
            "id": "V0REPLAY",
            "type": "modal",
            "callback_id": VIEW_DECISION,
            "private_metadata": target.dumps(),
            "state": {"values": {"comment": {"comment_input": {"value": "LGTM"}}}},
        },
        "response_urls": [],
    }


# -- the workspace: a request signed for this app, from another workspace or app -------------


def test_a_signed_request_from_another_workspace_or_app_is_refused(world: World) -> None:
    world.map_user("U0ALICE", "alice")
    execution_id = world.start_approval([ALICE_SESSION, BOB_SESSION], min_required=2)
    foreign_team = decision_submission(world, "U0ALICE", execution_id)
    foreign_team["team"] = {"id": "T0ELSEWHERE", "domain": "elsewhere"}
    foreign_app = decision_submission(world, "U0ALICE", execution_id)
    foreign_app["api_app_id"] = "A0OTHERAPP"
    no_team = decision_submission(world, "U0ALICE", execution_id)
    del no_team["team"]
    no_team["user"] = {"id": "U0ALICE"}
    before = calls(world)

    for payload in (foreign_team, foreign_app, no_team):
        body, headers = signed_request(payload, SIGNING_SECRET)
        assert post(world, body, headers) == 401
    world.settle()

    assert decisions(world, execution_id) == []
    assert calls(world) == before


# -- attribution: a role session named like a Slack user is not that person -------------------


def test_a_session_named_after_a_mapped_person_is_shown_as_itself(
    world: World, assume_role: Any
) -> None:
    world.map_user("U0CAROL", "carol")  # carol decides through SignoffApprover, from Slack
    execution_id = world.start_approval([OTHER_ROLE])
    impostor = assume_role(OTHER_ROLE, "U0CAROL").client("ssm", region_name="us-east-1")

    impostor.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    world.settle()

    card = world.card_text()
    assert "Approved* by `assumed-role/SomeoneElse/U0CAROL`" in card
    assert "<@U0CAROL>" not in card + json.dumps(world.thread())


def test_carol_deciding_from_slack_is_shown_as_carol(world: World) -> None:
    world.map_user("U0CAROL", "carol")
    world.start_approval([APPROVER_ROLE])

    world.decide("carol", ACTION_APPROVE, comment="fine")

    assert "Approved* by <@U0CAROL>" in world.card_text()
    assert any("<@U0CAROL> approved: fine (via Slack)" in t for t in world.thread())
