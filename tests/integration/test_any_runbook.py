"""Another team's runbook with two approvals: both cards kept true by EventBridge, in seconds.

Nothing here is Signoff's own document: the runbook names its own topic for notices, and only
the template's EventBridge rules (tests/support/world.py reads them from infra/template.yaml)
tell automation_result what happened. No reconciler pass runs in these tests.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from moto.ssm.responses import SimpleSystemManagerResponse

from bot.views import ACTION_APPROVE
from sandbox.aws.api import OPERATIONS
from tests.support.world import ACCOUNT, APPROVER_ROLE, REGION, RESULT_FUNCTION, World

DOCUMENT = "Team-BlueGreenSwitch"
FIRST, SECOND = "Drain the blue fleet", "Switch traffic to green"


def two_approvals(topic_arn: str) -> str:
    """Step 1 notifies the team's topic; step 2 names none (only its event tells Signoff)."""
    return f"""
description: Blue/green switch, two sign-offs
schemaVersion: "0.3"
parameters:
  Approvers:
    type: StringList
mainSteps:
  - name: ApproveDrain
    action: aws:approve
    timeoutSeconds: 3600
    inputs:
      Approvers: "{{{{ Approvers }}}}"
      NotificationArn: {topic_arn}
      Message: {FIRST}
  - name: ApproveSwitch
    action: aws:approve
    timeoutSeconds: 3600
    inputs:
      Approvers: "{{{{ Approvers }}}}"
      Message: {SECOND}
"""


@pytest.fixture
def runbook(world: World) -> World:
    world.add_document(DOCUMENT, two_approvals(world.topic_arn))
    world.map_user("U0ALICE", "alice")
    return world


def start(world: World, approvers: list[str]) -> str:
    response = world.client("ssm").start_automation_execution(
        DocumentName=DOCUMENT, Parameters={"Approvers": approvers}
    )
    world.settle()
    return str(response["AutomationExecutionId"])


def test_a_decision_on_the_first_step_closes_its_card_and_opens_the_second(
    runbook: World, assume_role: Any
) -> None:
    world = runbook
    execution_id = start(world, [APPROVER_ROLE])
    assert "0 of 1 approval" in world.card_text(about=FIRST)

    # Decided outside Slack: only SSM's events can tell the card.
    ssm = assume_role(APPROVER_ROLE, "console-admin").client("ssm", region_name=REGION)
    ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    world.settle()

    first = world.card_text(about=FIRST)
    # A session no mapping proves is shown as the principal it is, not as a person.
    assert "Approved* by `assumed-role/SignoffApprover/console-admin`" in first
    assert ACTION_APPROVE not in first  # no live buttons on a closed step
    second = world.card_text(about=SECOND)
    assert "0 of 1 approval" in second and ACTION_APPROVE in second

    world.decide("alice", ACTION_APPROVE, comment="green is healthy", about=SECOND)

    assert world.execution_status(execution_id) == "Success"
    assert "Approved* by <@U0ALICE>" in world.card_text(about=SECOND)


def test_a_runbook_signoff_has_no_card_for_costs_one_read_and_no_ssm_or_slack_call(
    runbook: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = runbook
    ssm_calls: list[str] = []
    for name in OPERATIONS:
        monkeypatch.setattr(SimpleSystemManagerResponse, name, _counted(name, ssm_calls))
    slack_before = len(world.control("GET", "calls")["calls"])
    event = _approval_waiting(str(uuid.uuid4()))

    result = world.client("lambda").invoke(
        FunctionName=RESULT_FUNCTION, Payload=json.dumps(event).encode()
    )
    world.settle()

    assert ssm_calls == []
    assert json.loads(result["Payload"].read()) == {
        "result": "ignored",
        "reason": "no card for this execution",
    }
    assert len(world.control("GET", "calls")["calls"]) == slack_before


def _counted(name: str, calls: list[str]) -> Any:
    operation = OPERATIONS[name]

    def counted(self: SimpleSystemManagerResponse) -> Any:
        calls.append(name)
        return operation(self)

    return counted


def _approval_waiting(execution_id: str) -> dict[str, Any]:
    """AWS's step status sample (SSM user guide), as an approval of another team's runbook."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "EC2 Automation Step Status-change Notification",
        "source": "aws.ssm",
        "account": ACCOUNT,
        "time": "2016-11-29T19:43:35Z",
        "region": REGION,
        "resources": [
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-execution/{execution_id}",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-definition/runcommand1:1",
        ],
        "detail": {
            "ExecutionId": execution_id,
            "Definition": "runcommand1",
            "DefinitionVersion": 1.0,
            "Status": "Waiting",
            "StartTime": "Nov 29, 2016 7:43:23 PM",
            "Time": 2630.0,
            "StepName": "approve",
            "Action": "aws:approve",
        },
    }
