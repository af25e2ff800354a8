"""The three flows, as approvers use them, against a sandbox deployed from infra/template.yaml.

Only HTTP: the AWS endpoint (boto3 with endpoint_url, like the AWS CLI) and the Slack
emulator's control API (people acting in Slack). The people are the sandbox's demo cast: alice
(level 1 and access keys), bob (level 2), carol (level 3), dave (IAM user dave), mallory (not
mapped).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.views import ACTION_APPROVE, ACTION_REJECT
from tests.e2e.conftest import SandboxClient, wait_for

pytestmark = pytest.mark.e2e

LEVEL1 = "approvals-level1"
LEVEL_CHANNELS = ("approvals", LEVEL1, "approvals-level2", "approvals-level3")


def test_flow_a_alice_approves_with_a_comment_as_her_own_principal(
    sandbox: SandboxClient,
) -> None:
    execution_id = sandbox.start_approval("Deploy build 42 to prod")
    assert "0 of 1 approval" in sandbox.card_text(LEVEL1, about=execution_id)

    sandbox.decide("alice", ACTION_APPROVE, "LGTM", channel=LEVEL1, about=execution_id)

    assert sandbox.execution(execution_id)["AutomationExecutionStatus"] == "Success"
    [decision] = sandbox.decisions(execution_id)
    assert re.fullmatch(
        r"arn:aws:sts::\d{12}:assumed-role/.*Level1ApproverRole.*/U0ALICE", decision["Approver"]
    )
    assert decision["Decision"] == "Approve"
    card = sandbox.card_text(LEVEL1, about=execution_id)
    assert "Approved* by <@U0ALICE>" in card
    assert ACTION_APPROVE not in card
    thread = sandbox.thread(LEVEL1, about=execution_id)
    assert any("<@U0ALICE> approved: LGTM (via Slack)" in t for t in thread)


def test_flow_a_alice_rejects_with_a_reason(sandbox: SandboxClient) -> None:
    execution_id = sandbox.start_approval("Drop the orders table")

    sandbox.decide(
        "alice", ACTION_REJECT, "Not during the freeze", channel=LEVEL1, about=execution_id
    )

    assert sandbox.execution(execution_id)["AutomationExecutionStatus"] == "Failed"
    [decision] = sandbox.decisions(execution_id)
    assert decision["Decision"] == "Reject"
    assert "Not during the freeze" in json.dumps(decision)
    card = sandbox.card_text(LEVEL1, about=execution_id)
    assert "Rejected* — <@U0ALICE> rejected: Not during the freeze" in card
    assert ACTION_REJECT not in card


def test_mallorys_click_is_refused_and_nothing_reaches_ssm(sandbox: SandboxClient) -> None:
    execution_id = sandbox.start_approval("Rotate the database password")

    clicked = sandbox.click("mallory", ACTION_APPROVE, channel=LEVEL1, about=execution_id)

    assert clicked["status"] == 200  # acked at once; the refusal comes privately
    refusal = [t for t in sandbox.ephemeral("mallory") if "not mapped" in t]
    assert refusal, sandbox.ephemeral("mallory")
    assert "signoff users map U0MALLORY" in refusal[-1]
    assert sandbox.decisions(execution_id) == []
    assert sandbox.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"
    assert "0 of 1 approval" in sandbox.card_text(LEVEL1, about=execution_id)


def test_an_approval_from_the_cli_as_a_role_session_updates_the_card(
    sandbox: SandboxClient,
) -> None:
    execution_id = sandbox.start_approval("Scale the fleet")
    session = sandbox.as_role(sandbox.role_arn("Level1ApproverRole"), "cli-approver")

    sandbox.aws("ssm", **session).send_automation_signal(
        AutomationExecutionId=execution_id,
        SignalType="Approve",
        Payload={"Comment": ["from the CLI"]},
    )
    sandbox.settle()

    card = sandbox.card_text(LEVEL1, about=execution_id)
    assert "Approved* by" in card and "cli-approver" in card
    assert any("outside Slack" in t for t in sandbox.thread(LEVEL1, about=execution_id))


def test_flow_b_three_levels_in_one_thread(sandbox: SandboxClient) -> None:
    sfn = sandbox.aws("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=sandbox.outputs["ApprovalFlowStateMachineArn"],
        input=sandbox.outputs["StepFunctionsInputExample"],  # the template's own example
    )
    flow = started["executionArn"].rsplit(":", 1)[-1]

    def root() -> dict[str, Any] | None:
        return next((m for m in sandbox.messages(LEVEL1) if flow in m["text"]), None)

    def waiting_card(level: int) -> dict[str, Any] | None:
        """The level's card in the flow's thread, once it waits (its buttons are on)."""
        for reply in reversed((root() or {}).get("replies", [])):
            blocks = json.dumps(reply.get("blocks") or [])
            if f"*Level {level} of 3*" in blocks and ACTION_APPROVE in blocks:
                return dict(reply)
        return None

    def where_things_are() -> str:
        thread = [r["text"][:90] for r in (root() or {}).get("replies", [])]
        elsewhere = {c: [m["text"][:90] for m in sandbox.messages(c)] for c in LEVEL_CHANNELS}
        children = sfn.list_executions(
            stateMachineArn=sandbox.outputs["ApprovalLevelStateMachineArn"]
        )["executions"]
        return (
            f"flow {sfn.describe_execution(executionArn=started['executionArn'])['status']}, "
            f"levels {[c['status'] for c in children]}, thread {thread}, channels {elsewhere}"
        )

    for level, person in enumerate(("alice", "bob", "carol"), start=1):
        # Each level's card is posted once the previous level's task token came back.
        try:
            card = wait_for(lambda: waiting_card(level), 20, f"level {level}'s card")  # noqa: B023
        except AssertionError as missing:
            raise AssertionError(f"{missing}; {where_things_are()}") from None
        sandbox.decide(person, ACTION_APPROVE, f"ok from {person}", channel=LEVEL1, ts=card["ts"])

    wait_for(
        lambda: (
            sfn.describe_execution(executionArn=started["executionArn"])["status"] == "SUCCEEDED"
        ),
        what="the flow to succeed",
    )
    roots = [m for m in sandbox.messages(LEVEL1) if flow in m["text"]]
    assert len(roots) == 1, "one thread for the whole flow"
    assert "level 1 ✓" in roots[0]["text"] and "level 3 ✓" in roots[0]["text"], roots[0]["text"]
    thread = [r["text"] for r in roots[0]["replies"]]
    for person in ("ALICE", "BOB", "CAROL"):
        assert any(f"<@U0{person}> approved: ok from" in t for t in thread), thread
    assert any("Flow approved" in t for t in thread)


def test_flow_c_dave_requests_a_key_alice_approves_dave_gets_the_secret_name(
    sandbox: SandboxClient,
) -> None:
    reply = sandbox.command("dave", "/request-key", "dave CI deploy key")
    assert reply["status"] == 200
    card = sandbox.card("approvals", about="CI deploy key")
    assert "<@U0DAVE>" in json.dumps(card["blocks"])

    sandbox.decide("alice", ACTION_APPROVE, "ok", channel="approvals", about="CI deploy key")

    [dm] = [t for t in sandbox.dms("dave") if "access-key-" in t][-1:]
    [name] = set(re.findall(r"signoff/access-keys/dave/access-key-\d{8}T\d{6}Z", dm))
    secrets = sandbox.aws("secretsmanager")
    secret = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
    assert secret["AccessKeyId"] in {
        k["AccessKeyId"]
        for k in sandbox.aws("iam").list_access_keys(UserName="dave")["AccessKeyMetadata"]
    }
    calls = json.dumps(sandbox.control("GET", "calls")["calls"])
    assert secret["SecretAccessKey"] not in calls, "the secret key reached Slack"
