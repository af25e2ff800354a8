"""Flow B end to end: the template's own state machines, the SSM engine, Signoff's Lambdas, Slack.

The world's stack (infra/template.yaml, LevelCount 3, a channel per level) has the parent and
child state machines, the level topics and approver roles; they run in moto's Step Functions
interpreter; the child invokes the stack's start_approval in-process, the SSM engine
runs the approval runbook, EventBridge carries its status to automation_result, and people
decide through signed clicks in the Slack emulator. The input is the seed's own
StepFunctionsInputExample (tests/fixtures/sfn_input_seed_example.json) with its CloudFormation
placeholders filled in, nothing else changed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)

from bot.views import ACTION_APPROVE, ACTION_REJECT
from tests.support.stepfunctions import entered_states, stopped
from tests.support.world import ACCOUNT, REGION, World

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "sfn_input_seed_example.json"
LEVELS = (1, 2, 3)
START_FUNCTION = "signoff-start-approval"
# Level 1 decides in #approvals-level1, where the flow's thread lives; levels 2 and 3 have their
# own channels, which get a pointer to the thread.
CHANNELS = {1: "C0LEVEL1", 2: "C0LEVEL2", 3: "C0LEVEL3"}
APPROVERS = {1: "alice", 2: "bob", 3: "carol"}


def seed_input(values: dict[str, str]) -> dict[str, Any]:
    """The seed's input example with its `${...}` placeholders filled in, as its stack would."""
    text = FIXTURE.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, "every placeholder of the seed's example is filled"
    return dict(json.loads(text))


@dataclass
class MultiLevel:
    world: World
    sfn: Any
    parent_arn: str
    child_arn: str
    input: dict[str, Any]
    roles: dict[int, str]

    # -- Step Functions ---------------------------------------------------------------------

    def start(self, **changes: Any) -> str:
        flow_input = {**self.input, **changes}
        response = self.sfn.start_execution(
            stateMachineArn=self.parent_arn, input=json.dumps(flow_input)
        )
        return str(response["executionArn"])

    def finished(self, execution_arn: str) -> dict[str, Any]:
        return self.wait(lambda: stopped(self.sfn, execution_arn), f"{execution_arn} to finish")

    def children(self) -> list[dict[str, Any]]:
        executions = self.sfn.list_executions(stateMachineArn=self.child_arn)["executions"]
        return [self.sfn.describe_execution(executionArn=e["executionArn"]) for e in executions]

    def entered_states(self, execution_arn: str) -> list[str]:
        return entered_states(self.sfn, execution_arn)

    # -- SSM ----------------------------------------------------------------------------------

    def approvals(self) -> list[dict[str, Any]]:
        ssm = self.world.client("ssm")
        listed = ssm.describe_automation_executions()["AutomationExecutionMetadataList"]
        return [
            ssm.get_automation_execution(AutomationExecutionId=m["AutomationExecutionId"])[
                "AutomationExecution"
            ]
            for m in listed
        ]

    # -- Slack --------------------------------------------------------------------------------

    def root(self) -> dict[str, Any]:
        roots = [
            m
            for m in self.world.messages(CHANNELS[1])
            if m.get("text", "").startswith("Approval flow")
        ]
        assert len(roots) == 1, f"one root message per flow, got {len(roots)}"
        return roots[0]

    def card(self, level: int) -> dict[str, Any]:
        """The level's card in the flow's thread (waiting until it is there)."""

        def posted() -> dict[str, Any] | None:
            roots = [
                m
                for m in self.world.messages(CHANNELS[1])
                if m.get("text", "").startswith("Approval flow")
            ]
            for reply in roots[0].get("replies", []) if roots else []:
                if level_of(reply).startswith(f"Level {level} of "):
                    return dict(reply)
            return None

        return self.wait(posted, f"the level {level} card")

    def decide(self, level: int, action_id: str, comment: str = "") -> None:
        """The level's approver clicks on the card in the thread and submits the modal."""
        card = self.card(level)
        self.world.decide(APPROVERS[level], action_id, comment, CHANNELS[1], ts=card["ts"])

    def wait(self, probe: Callable[[], Any], what: str, timeout: float = 30) -> Any:
        # Step Functions executions run on moto's own threads, which settle() does not track.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.world.settle()
            found = probe()
            if found is not None:
                return found
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")


def tokens_scheduled(flow: MultiLevel) -> list[str]:
    """Every task token the children handed to start_approval (their execution history)."""
    tokens = []
    for child in flow.children():
        history = flow.sfn.get_execution_history(executionArn=child["executionArn"])["events"]
        for event in history:
            if "taskScheduledEventDetails" in event:
                parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
                tokens.append(str(parameters["Payload"]["token"]))
    return tokens


def level_of(message: dict[str, Any]) -> str:
    """ "Level 2 of 3" when the message is a level's card (one line and, while open, buttons)."""
    blocks = message.get("blocks") or []
    first = str(blocks[0].get("text", {}).get("text", "")) if blocks else ""
    found = re.search(r"\*(Level \d+ of \d+)\* \(<", first)
    return found.group(1) if found else ""


@pytest.fixture
def world_parameters() -> dict[str, str]:
    return {
        "LevelCount": str(len(LEVELS)),
        **{f"Level{n}Channel": CHANNELS[n] for n in LEVELS},
        # The stack creates an approver role per level (the world's people act through none).
        "ApproverRoleArns": "",
    }


@pytest.fixture
def flow(
    world: World, monkeypatch: pytest.MonkeyPatch, watched_secrets: set[str]
) -> Iterator[MultiLevel]:
    # `.sync` children are polled every 0.5 s by default, far slower than these levels.
    monkeypatch.setattr(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", 0.05)
    outputs = world.stack.outputs
    roles = {n: world.role_arn(f"Level{n}ApproverRole") for n in LEVELS}
    for n in LEVELS:
        world.map_user(f"U0{APPROVERS[n].upper()}", APPROVERS[n], role_arn=roles[n])
    values = {
        "AWS::Region": REGION,
        "SsmAutomationAssumeRole.Arn": outputs["AutomationRoleArn"],
        "SsmDocumentForApprovalAction": world.approval_document,
    }
    for n in LEVELS:
        values[f"SnsAutomationApprovalNotificationLevel{n}"] = outputs[f"Level{n}TopicArn"]
        values[f"Level{n}SsmApprovers"] = roles[n]
        values[f"Level{n}SsmMinRequiredApprovals"] = "1"
    sfn = world.client("stepfunctions")
    multilevel = MultiLevel(
        world,
        sfn,
        outputs["ApprovalFlowStateMachineArn"],
        outputs["ApprovalLevelStateMachineArn"],
        seed_input(values),
        roles,
    )
    yield multilevel
    # Every task token is a secret: the world's leak scan (tests/conftest.py) looks for each in
    # what Slack saw and in every log record once the test is over.
    watched_secrets.update(tokens_scheduled(multilevel))


def test_all_levels_approved_in_slack_end_the_parent_at_approved(flow: MultiLevel) -> None:
    parent = flow.start()
    for level in LEVELS:
        flow.decide(level, ACTION_APPROVE, comment=f"level {level} ok")
    result = flow.finished(parent)

    assert result["status"] == "SUCCEEDED"
    assert flow.entered_states(parent)[-1] == "Approved"
    output = json.loads(result["output"])
    assert output["is_approved"] is True and output["level"] == 3
    level3 = flow.world.stack.physical_id("Level3ApproverRole")
    assert output["decided_by"] == [f"arn:aws:sts::{ACCOUNT}:assumed-role/{level3}/U0CAROL"]
    assert output["comments"] == ["level 3 ok"]
    assert sorted(c["status"] for c in flow.children()) == ["SUCCEEDED"] * 3


def test_the_thread_of_one_flow_shows_every_level_in_order(flow: MultiLevel) -> None:
    parent = flow.start()
    for level in LEVELS:
        flow.decide(level, ACTION_APPROVE)
    flow.finished(parent)
    flow.world.settle()

    root = flow.root()
    assert root["text"].endswith(
        "level 1 ✓ approved by <@U0ALICE> · level 2 ✓ approved by <@U0BOB> · "
        "level 3 ✓ approved by <@U0CAROL>"
    )
    replies = root.get("replies", [])
    cards = [level_of(r) for r in replies if level_of(r)]
    assert cards == [f"Level {n} of 3" for n in LEVELS]
    positions = [
        next(i for i, r in enumerate(replies) if level_of(r) == f"Level {n} of 3") for n in LEVELS
    ]
    assert positions == sorted(positions)
    # One line per event: each level's card, its decision, then the flow's outcome.
    said = [level_of(r) or r["text"].split(" (via")[0] for r in replies]
    assert said[:-1] == [
        "Level 1 of 3",
        ":white_check_mark: <@U0ALICE> approved",
        "Level 2 of 3",
        ":white_check_mark: <@U0BOB> approved",
        "Level 3 of 3",
        ":white_check_mark: <@U0CAROL> approved",
    ]
    assert "*Flow approved*" in said[-1]
    outcome = [r["text"] for r in replies if "*Flow approved*" in r.get("text", "")]
    assert len(outcome) == 1 and replies[-1]["text"] == outcome[0]
    # Levels 2 and 3 decide in their own channels: a pointer there, no second card.
    for level in (2, 3):
        [pointer] = flow.world.messages(CHANNELS[level])
        assert f"Level {level} of 3" in pointer["text"] and "<#C0LEVEL1>" in pointer["text"]
        assert "approved by" in pointer["text"]
        # "The flow's thread" links to it (the emulator's page opens its permalinks).
        link = f"{flow.world.slack_url}/archives/C0LEVEL1/p{root['ts'].replace('.', '')}"
        assert f"<{link}|The flow's thread>" in pointer["text"]


def test_a_rejection_at_level_two_ends_at_rejected_and_level_three_never_starts(
    flow: MultiLevel,
) -> None:
    parent = flow.start()
    flow.decide(1, ACTION_APPROVE)
    flow.decide(2, ACTION_REJECT, comment="not this week")
    result = flow.finished(parent)

    assert result["status"] == "SUCCEEDED"
    states = flow.entered_states(parent)
    assert states[-1] == "Rejected" and "Level3" not in states
    assert json.loads(result["output"])["is_approved"] is False
    assert len(flow.children()) == 2
    assert len(flow.approvals()) == 2, "no level-3 approval was started"
    flow.world.settle()
    root = flow.root()
    said = [r["text"] for r in root.get("replies", []) if "*Flow rejected*" in r.get("text", "")]
    assert said == [
        ":no_entry: *Flow rejected* at level 2 of 3 by <@U0BOB>. Level 3 will not start."
    ]
    assert "level 2 ✗ rejected by <@U0BOB> · level 3 \u2013" in root["text"]


def test_a_timed_out_level_fails_its_task_and_the_parent_fails(
    flow: MultiLevel, advance_clock: Callable[[float], None]
) -> None:
    parent = flow.start()
    flow.card(1)
    advance_clock(604800)  # the approval runbook's 7-day timeout
    result = flow.finished(parent)

    assert result["status"] == "FAILED", "no waiting out the flow's own timeout"
    [child] = flow.children()
    assert child["status"] == "FAILED" and child["error"] == "Signoff.ApprovalTimedOut"
    assert "Level2" not in flow.entered_states(parent)
    flow.world.settle()
    said = [r["text"] for r in flow.root().get("replies", []) if "*Flow stopped*" in r["text"]]
    assert len(said) == 1 and "`Signoff.ApprovalTimedOut`" in said[0]
    assert "level 1 ⏰ timed out · level 2 \u2013" in flow.root()["text"]


def test_the_parent_of_a_timed_out_level_names_the_timeout(
    flow: MultiLevel, advance_clock: Callable[[float], None]
) -> None:
    parent = flow.start()
    flow.card(1)
    advance_clock(604800)
    result = flow.finished(parent)

    failure = f"{result.get('error', '')} {result.get('cause', '')}"
    assert "Signoff.ApprovalTimedOut" in failure
    assert "timed out with 0 of 1 approvals" in failure


def test_a_malformed_later_level_fails_the_flow_before_anyone_decides(flow: MultiLevel) -> None:
    parent = flow.start(level2_ssm_notification_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:Approvals")
    result = flow.finished(parent)

    assert result["status"] == "FAILED"
    [child] = flow.children()
    assert child["status"] == "FAILED" and child["error"] == "Signoff.InvalidInput"
    assert flow.approvals() == [], "no approval was started: nobody decides in vain"
    [refusal] = [e for e in flow.world.audit(parent) if e["event"] == "invalid_input"]
    assert "level2_ssm_notification_arn names the topic 'Approvals'" in refusal["cause"]
    assert "starts with `Automation`" in refusal["cause"]
    assert "level2_ssm_notification_arn" in (result.get("cause") or "")


def test_a_missing_level_3_key_fails_the_flow_before_level_1_starts(flow: MultiLevel) -> None:
    flow.input.pop("level3_ssm_approvers")
    parent = flow.start()
    result = flow.finished(parent)

    assert result["status"] == "FAILED"
    assert flow.approvals() == []
    cause = result.get("cause") or ""
    assert "level3_ssm_approvers is missing" in cause
    assert "start the flow again" in cause
    assert "Level2" not in flow.entered_states(parent)


def test_an_empty_ssm_doc_name_runs_signoffs_document(flow: MultiLevel) -> None:
    # What the refusal of another document name advises.
    parent = flow.start(ssm_doc_name="")
    flow.decide(1, ACTION_APPROVE)

    flow.wait(lambda: "Level2" in flow.entered_states(parent) or None, "level 2 to start")
    assert flow.approvals()[0]["DocumentName"] == flow.world.env["SIGNOFF_APPROVAL_DOCUMENT"]


def test_seed_000s_parent_runs_signoffs_child_as_a_reusable_component(flow: MultiLevel) -> None:
    # The seed's own caller passes no level metadata: each level is an approval of its own.
    definition = (FIXTURE.parent / "sfn_approval_parent.json").read_text()
    role = flow.world.role_arn("ApprovalFlowStateMachineRole")
    seed_parent = flow.sfn.create_state_machine(
        name="StepFunctionsCallerForApprovalFlow",
        definition=definition.replace("${ChildStateMachineArn}", flow.child_arn),
        roleArn=role,
    )["stateMachineArn"]
    parent = flow.sfn.start_execution(stateMachineArn=seed_parent, input=json.dumps(flow.input))[
        "executionArn"
    ]

    for level in LEVELS:
        waiting = flow.wait(
            lambda: (
                [a for a in flow.approvals() if a["AutomationExecutionStatus"] == "Waiting"] or None
            ),
            f"level {level}'s approval",
        )
        [approval] = waiting
        assert approval["Parameters"]["Approvers"] == [flow.roles[level]]
        creds = flow.world.client("sts").assume_role(
            RoleArn=flow.roles[level], RoleSessionName=f"U0{APPROVERS[level].upper()}"
        )["Credentials"]
        flow.world.session.client(
            "ssm",
            region_name=REGION,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        ).send_automation_signal(
            AutomationExecutionId=approval["AutomationExecutionId"], SignalType="Approve"
        )
        flow.world.settle()
    result = flow.finished(parent)

    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert json.loads(result["output"])["is_approved"] is True
    assert sorted(c["status"] for c in flow.children()) == ["SUCCEEDED"] * 3


def test_the_task_token_stays_inside_aws(flow: MultiLevel) -> None:
    parent = flow.start()
    flow.decide(1, ACTION_APPROVE)
    flow.decide(2, ACTION_REJECT, comment="no")
    flow.finished(parent)

    tokens = [level_token(flow, level) for level in (1, 2)]
    # SSM (whose executions anyone with ssm:GetAutomationExecution reads) gets a handle only.
    approvals = flow.approvals()
    ssm = json.dumps(approvals, default=str)
    assert not any(token in ssm for token in tokens)
    handles = [a["Parameters"]["SignoffHandle"][0] for a in approvals]
    assert len(set(handles)) == 2 and all(len(h) == 32 for h in handles)
    assert all(
        "SfnToken" not in a["Parameters"] or a["Parameters"]["SfnToken"] == [""] for a in approvals
    )
    slack = json.dumps(
        [flow.world.control("GET", "calls"), flow.world.control("GET", "interactions")]
    )
    assert not any(token in slack for token in tokens)
    # Signoff's table keeps each token once, under its handle, bound to its execution.
    table = flow.world.session.resource("dynamodb", region_name=REGION).Table(
        flow.world.table("approvals")
    )
    items = table.scan()["Items"]
    holding = [i for i in items if any(t in json.dumps(i, default=str) for t in tokens)]
    assert sorted(str(i["pk"]) for i in holding) == sorted(f"HANDLE#{h}" for h in handles)
    bound = {str(i["pk"]).removeprefix("HANDLE#"): i["execution_id"] for i in holding}
    assert bound == {
        a["Parameters"]["SignoffHandle"][0]: a["AutomationExecutionId"] for a in approvals
    }
    # The fixture hands the tokens to the leak scan, which also reads every log record.


# -- stolen task tokens (issue 25, High) ---------------------------------------------------------

# The attacker's own runbook: one aws:approve step whose approvers the starter chooses, plus
# every parameter Signoff's approval document has, so a copy of a real level's parameters fits.
ATTACKER_DOCUMENT = """
schemaVersion: "0.3"
description: Not Signoff's
parameters:
  Description: {type: String, default: x}
  Message: {type: String, default: x}
  NotificationArn: {type: String, default: ""}
  Approvers: {type: StringList}
  MinRequiredApprovals: {type: Integer, default: 1}
  AutomationAssumeRole: {type: String, default: ""}
  SfnToken: {type: String, default: ""}
  SignoffHandle: {type: String, default: ""}
mainSteps:
  - name: Approve
    action: aws:approve
    inputs:
      Message: "{{ Message }}"
      NotificationArn: "{{ NotificationArn }}"
      Approvers: "{{ Approvers }}"
      MinRequiredApprovals: "{{ MinRequiredApprovals }}"
    isEnd: true
"""


def level_token(flow: MultiLevel, level: int) -> str:
    """The level's task token, as it leaked anywhere (here: the child's execution history)."""
    for child in flow.children():
        history = flow.sfn.get_execution_history(executionArn=child["executionArn"])["events"]
        for event in history:
            scheduled = event.get("taskScheduledEventDetails")
            if scheduled:
                payload = json.loads(scheduled["parameters"])["Payload"]
                if payload["execution_input"].get("level") == level:
                    return str(payload["token"])
    raise AssertionError(f"no level {level} task was scheduled")


def attack(flow: MultiLevel, document: str, parameters: dict[str, list[str]]) -> str:
    """As an IAM role that is no approver: start `document`, approve it yourself; its id."""
    world = flow.world
    mallory = world.add_role("Mallory", "ssm")
    # She may run and answer any runbook (the world holds role sessions to their policies).
    world.client("iam").put_role_policy(
        RoleName="Mallory",
        PolicyName="runs-runbooks",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["ssm:StartAutomationExecution", "ssm:SendAutomationSignal"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    creds = world.client("sts").assume_role(RoleArn=mallory, RoleSessionName="U0MALLORY")[
        "Credentials"
    ]
    ssm = world.session.client(
        "ssm",
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    started = ssm.start_automation_execution(
        DocumentName=document, Parameters={**parameters, "Approvers": [mallory]}
    )
    execution_id = str(started["AutomationExecutionId"])
    world.settle()
    world.client("lambda").invoke(FunctionName="signoff-reconcile", Payload=b"{}")
    world.settle()
    ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    world.settle()
    # Its result event (Signoff's document) and the next reconciler pass have run.
    world.client("lambda").invoke(FunctionName="signoff-reconcile", Payload=b"{}")
    world.settle()
    return execution_id


@pytest.mark.parametrize("document", ["attacker's own", "Signoff's"])
def test_a_stolen_level_token_does_not_pass_the_level(flow: MultiLevel, document: str) -> None:
    parent = flow.start()
    flow.card(1)
    [real] = flow.approvals()
    # Everything SSM shows of the real level (its token or handle), plus the leaked token.
    stolen = {k: list(v) for k, v in real["Parameters"].items()}
    stolen["SfnToken"] = [level_token(flow, 1)]
    if document == "attacker's own":
        flow.world.add_document("Mallory-Approve", ATTACKER_DOCUMENT)
        name = "Mallory-Approve"
    else:
        name = flow.world.env["SIGNOFF_APPROVAL_DOCUMENT"]

    forged = attack(flow, name, stolen)

    assert flow.world.execution_status(forged) == "Success"  # the attacker's approval ended
    flow.world.settle()
    assert stopped(flow.sfn, parent) is None, "the flow still waits on level 1's approvers"
    assert [c["status"] for c in flow.children()] == ["RUNNING"], "level 2 never started"
    assert "Level2" not in flow.entered_states(parent)
    assert not [e for e in flow.world.audit(forged) if e["event"] == "task_completed"]
    # The real approvers still decide the level.
    flow.decide(1, ACTION_APPROVE)
    flow.wait(lambda: "Level2" in flow.entered_states(parent) or None, "level 2 to start")


def test_a_start_approval_replayed_starts_no_second_automation(flow: MultiLevel) -> None:
    parent = flow.start()
    flow.card(1)
    [child] = flow.children()
    history = flow.sfn.get_execution_history(executionArn=child["executionArn"])["events"]
    [scheduled] = [
        e["taskScheduledEventDetails"] for e in history if "taskScheduledEventDetails" in e
    ]
    payload = json.loads(scheduled["parameters"])["Payload"]

    answer = flow.world.client("lambda").invoke(
        FunctionName=START_FUNCTION, Payload=json.dumps(payload).encode()
    )

    result = json.loads(answer["Payload"].read())
    assert result["result"] == "already_started"
    assert len(flow.approvals()) == 1
    assert stopped(flow.sfn, parent) is None
