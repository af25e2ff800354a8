"""Flow A end to end: SSM approval → card → clicks as real people → SSM, card, thread, audit."""

from __future__ import annotations

import json
import threading
import time

import requests

from bot.errors import AlreadyDecided
from bot.models import Verdict
from bot.views import ACTION_APPROVE, ACTION_REJECT
from bot.wiring import services_from_env
from tests.support.world import (
    ACCOUNT,
    APPROVER_ROLE,
    OTHER_ROLE,
    SIGNING_SECRET,
    World,
)

ALICE_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/SignoffApprover/U0ALICE"
BOB_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/SignoffApprover/U0BOB"


def decisions(world: World, execution_id: str) -> list[dict[str, str]]:
    outputs = world.approve_step(execution_id).get("Outputs", {})
    return [json.loads(d) for d in outputs.get("ApproverDecisions", [])]


def test_a_single_approver_approves_from_slack_as_their_own_principal(world: World) -> None:
    world.map_user("U0ALICE", "alice")
    execution_id = world.start_approval([APPROVER_ROLE])

    card = world.card_text()
    assert "Deploy build 42 to prod" in card
    assert "0 of 1 approval" in card
    assert "Started by" in card and "Approvers" in card
    # The card is the request; its thread holds what happens next (one message per card keeps
    # a busy channel within Slack's 1 message/s).
    assert world.thread() == []

    world.decide("alice", ACTION_APPROVE, comment="LGTM")

    assert world.execution_status(execution_id) == "Success"
    [decision] = decisions(world, execution_id)
    assert decision["Approver"] == ALICE_SESSION
    assert decision["Decision"] == "Approve"
    card = world.card_text()
    assert "Approved* by <@U0ALICE>" in card
    assert ACTION_APPROVE not in card  # buttons removed once closed
    thread = world.thread()
    # One line per event: her decision, which approved it (the card says Approved); no second
    # line repeating it.
    assert [t for t in thread if "approved" in t.lower()] == [
        ":white_check_mark: <@U0ALICE> approved: LGTM (via Slack)"
    ]
    events = [row["event"] for row in world.audit(execution_id)]
    assert events == ["notice_received", "decision", "outcome"]


def test_two_of_two_quorum_shows_progress_then_approved(world: World) -> None:
    world.map_user("U0ALICE", "alice")
    world.map_user("U0BOB", "bob")
    execution_id = world.start_approval([ALICE_SESSION, BOB_SESSION], min_required=2)

    world.decide("alice", ACTION_APPROVE)
    assert world.execution_status(execution_id) == "Waiting"
    assert "1 of 2 approvals* — <@U0ALICE> approved" in world.card_text()

    world.decide("bob", ACTION_APPROVE, comment="ship it")
    assert world.execution_status(execution_id) == "Success"
    assert "Approved* by <@U0ALICE>, <@U0BOB>" in world.card_text()


def test_reject_requires_a_reason_that_reaches_ssm(world: World) -> None:
    world.map_user("U0BOB", "bob")
    execution_id = world.start_approval([ALICE_SESSION, BOB_SESSION], min_required=2)

    world.click("bob", ACTION_REJECT)
    modal = world.views("bob")[-1]
    empty = world.control(
        "POST",
        "submit",
        json={"user": "bob", "view_id": modal["id"], "values": {"comment": {"comment_input": ""}}},
    )
    assert "comment" in json.dumps(empty)  # the modal answers with an error on the reason field
    assert world.execution_status(execution_id) == "Waiting"

    world.control(
        "POST",
        "submit",
        json={
            "user": "bob",
            "view_id": modal["id"],
            "values": {"comment": {"comment_input": "Not during the freeze"}},
        },
    )
    world.settle()
    assert world.execution_status(execution_id) == "Failed"
    [decision] = decisions(world, execution_id)
    assert decision["Approver"] == BOB_SESSION
    assert decision["Decision"] == "Reject"
    assert "Not during the freeze" in json.dumps(decision)
    assert "Rejected* — <@U0BOB> rejected: Not during the freeze" in world.card_text()


def test_an_unmapped_user_is_told_what_to_do_and_nothing_reaches_ssm(world: World) -> None:
    execution_id = world.start_approval([APPROVER_ROLE])

    world.click("mallory", ACTION_APPROVE)

    [refusal] = world.ephemeral("mallory")
    assert "not mapped" in refusal
    assert "signoff users map U0MALLORY" in refusal
    assert decisions(world, execution_id) == []
    assert world.execution_status(execution_id) == "Waiting"


def test_a_mapping_removed_after_a_click_still_stops_the_decision(world: World) -> None:
    world.map_user("U0ALICE", "alice")
    execution_id = world.start_approval([APPROVER_ROLE])
    world.click("alice", ACTION_APPROVE)  # the click's check reads alice's mapping
    world.unmap_user("U0ALICE")

    # The next click's check may go by the mapping it read a moment ago; the decision may not.
    world.decide("alice", ACTION_APPROVE, comment="LGTM")

    assert any("not mapped" in t for t in world.ephemeral("alice"))
    assert decisions(world, execution_id) == []
    assert world.execution_status(execution_id) == "Waiting"


def test_a_mapped_user_who_is_not_an_approver_is_refused(world: World) -> None:
    world.map_user("U0CAROL", "carol", role_arn=OTHER_ROLE)
    execution_id = world.start_approval([APPROVER_ROLE])

    world.click("carol", ACTION_APPROVE)

    assert any("not among this execution's approvers" in t for t in world.ephemeral("carol"))
    [modal] = world.views("carol")  # the comment modal turned into the explanation
    assert "not among this execution's approvers" in json.dumps(modal)
    assert decisions(world, execution_id) == []


def test_a_second_click_is_refused_before_anything_is_typed(world: World) -> None:
    world.map_user("U0ALICE", "alice")
    execution_id = world.start_approval([ALICE_SESSION, BOB_SESSION], min_required=2)

    world.decide("alice", ACTION_APPROVE, comment="first")
    world.click("alice", ACTION_APPROVE)

    assert "already decided" in json.dumps(world.views("alice")[-1])
    assert any("already decided" in t for t in world.ephemeral("alice"))
    assert [d["Approver"] for d in decisions(world, execution_id)] == [ALICE_SESSION]


def test_concurrent_submissions_send_one_signal(world: World) -> None:
    # Two submissions racing (two modals, a Slack retry, a Lambda async retry): one claim wins.
    world.map_user("U0BOB", "bob")
    execution_id = world.start_approval([ALICE_SESSION, BOB_SESSION], min_required=2)
    services, _ = services_from_env()
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def submit() -> None:
        barrier.wait()
        try:
            services.approvals.decide("U0BOB", execution_id, None, Verdict.APPROVE, "race")
            outcomes.append("sent")
        except AlreadyDecided:
            outcomes.append("already decided")

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    world.settle()

    assert sorted(outcomes) == ["already decided"] * 3 + ["sent"]
    assert [d["Approver"] for d in decisions(world, execution_id)] == [BOB_SESSION]
    assert [r["event"] for r in world.audit(execution_id)].count("decision") == 1


def test_duplicate_sns_delivery_posts_one_card(world: World) -> None:
    execution_id = world.start_approval([APPROVER_ROLE])
    sns = world.client("sns")
    for _ in range(3):
        sns.publish(TopicArn=world.topic_arn, Message=f"Approval needed: execution {execution_id}")
    world.settle()

    cards = [m for m in world.messages() if m.get("blocks")]
    assert len(cards) == 1


def test_a_decision_made_outside_slack_updates_the_card(world: World, assume_role) -> None:
    execution_id = world.start_approval([APPROVER_ROLE])
    ssm = assume_role(APPROVER_ROLE, "console-admin").client("ssm", region_name="us-east-1")

    ssm.send_automation_signal(
        AutomationExecutionId=execution_id,
        SignalType="Approve",
        Payload={"Comment": ["approved in the console"]},
    )
    world.settle()

    assert "Approved* by `assumed-role/SignoffApprover/console-admin`" in world.card_text()
    assert any("outside Slack" in t for t in world.thread())


def test_a_timeout_updates_the_card(world: World, advance_clock) -> None:
    execution_id = world.start_approval([APPROVER_ROLE])

    advance_clock(7 * 24 * 3600 + 1)
    world.settle()

    assert world.execution_status(execution_id) == "TimedOut"
    assert "Timed out" in world.card_text()
    assert ACTION_APPROVE not in world.card_text()
    assert any("Nobody decided before the deadline" in t for t in world.thread())


def test_a_notice_without_an_execution_id_is_repaired_by_the_reconciler(world: World) -> None:
    # Both inbound paths lose it: the notice goes to a topic nobody subscribed, and EventBridge
    # (best-effort) delivers nothing.
    for rule in world.result_rules():
        world.client("events").disable_rule(Name=rule)
    other_topic = world.client("sns").create_topic(Name="AutomationUnsubscribed")["TopicArn"]
    execution_id = world.start_approval([APPROVER_ROLE], notification_arn=other_topic)
    assert not [m for m in world.messages() if m.get("blocks")]

    world.client("sns").publish(TopicArn=world.topic_arn, Message="Please approve the deploy")
    world.settle()
    assert not [m for m in world.messages() if m.get("blocks")]  # logged, not retried

    result = world.client("lambda").invoke(FunctionName="signoff-reconcile", Payload=b"{}")
    world.settle()

    assert json.loads(result["Payload"].read())["posted"] == 1
    assert execution_id in world.card_text()


def test_slack_rate_limits_are_waited_out(world: World) -> None:
    world.control(
        "POST",
        "faults",
        json={"method": "chat.postMessage", "status": 429, "count": 1, "retry_after": 1},
    )
    started = time.monotonic()
    execution_id = world.start_approval([APPROVER_ROLE])

    assert execution_id in world.card_text()
    assert time.monotonic() - started >= 1  # Retry-After was honoured, not ignored


def test_forged_and_stale_signatures_get_401_and_touch_nothing(world: World) -> None:
    execution_id = world.start_approval([APPROVER_ROLE])
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ALICE"},
        "actions": [
            {
                "action_id": ACTION_APPROVE,
                "value": f"{execution_id}:ApprovalAction",
                "action_ts": "1.2",
            }
        ],
        "trigger_id": "1.2.3",
    }
    body = "payload=" + requests.utils.quote(json.dumps(payload))
    from slack_sdk.signature import SignatureVerifier

    stale = str(int(time.time()) - 600)
    signer = SignatureVerifier(SIGNING_SECRET)
    attempts = [
        {"x-slack-request-timestamp": str(int(time.time())), "x-slack-signature": "v0=forged"},
        {
            "x-slack-request-timestamp": stale,
            "x-slack-signature": signer.generate_signature(timestamp=stale, body=body),
        },
        {},
    ]
    for headers in attempts:
        response = requests.post(
            world.bot_url,
            data=body,
            timeout=10,
            headers={"content-type": "application/x-www-form-urlencoded", **headers},
        )
        assert response.status_code == 401
    world.settle()
    assert world.views("alice") == []
    assert decisions(world, execution_id) == []


def test_a_cold_start_asks_slack_nothing_before_its_ack_but_to_open_the_modal(
    world: World,
) -> None:
    # Bolt's default single-workspace authorization calls auth.test on the first request a
    # fresh function gets: a Slack round trip inside the 3-second ack, on every cold start.
    world.map_user("U0ALICE", "alice")
    world.start_approval([APPROVER_ROLE])
    before = len(world.control("GET", "calls")["calls"])

    world.click("alice", ACTION_APPROVE)

    methods = [c["method"] for c in world.control("GET", "calls")["calls"][before:]]
    assert "auth.test" not in methods
    assert methods[0] == "views.open"
    assert world.views("alice"), "the decision modal opened"
