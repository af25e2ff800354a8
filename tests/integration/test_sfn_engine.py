"""Seed 000: a parent state machine runs a child approval flow per level, through SSM."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)

from sandbox.aws.clock import Clock
from tests.support.stepfunctions import entered_states, stopped

REGION = "us-east-1"
DOCUMENT = "SsmDocumentForApprovalAction"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LEVELS = (1, 2, 3)


def start_approval(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Modelled on the seed's LambdaForSsmStartAutomationExecution."""
    boto3.client("ssm").start_automation_execution(
        DocumentName=event["ssm_doc_name"],
        Parameters={
            "AutomationAssumeRole": [event["ssm_automation_assume_role"]],
            "Description": [event["ssm_description"]],
            "Message": [event["ssm_message"]],
            "NotificationArn": [event["ssm_notification_arn"]],
            "Approvers": [event["ssm_approvers"]],
            "MinRequiredApprovals": [event["ssm_min_required_approvals"]],
            "SfnToken": [event["token"]],
        },
        Mode="Auto",
    )
    return {"params": event}


def automation_result(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Modelled on the seed's LambdaForReceivingAutomationResult, plus SendTaskFailure."""
    ssm, sfn = boto3.client("ssm"), boto3.client("stepfunctions")
    execution_id = event["detail"]["ExecutionId"]
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)
    token = execution["AutomationExecution"]["Parameters"]["SfnToken"][0]
    (step,) = ssm.describe_automation_step_executions(
        AutomationExecutionId=execution_id, Filters=[{"Key": "Action", "Values": ["aws:approve"]}]
    )["StepExecutions"]
    status = step["Outputs"]["ApprovalStatus"][0]
    if status in ("Approved", "Rejected"):
        is_approved = status == "Approved"
        sfn.send_task_success(taskToken=token, output=json.dumps({"is_approved": is_approved}))
        return {"is_approved": is_approved}
    # Never leave a token hanging: a timed-out approval fails the task.
    sfn.send_task_failure(taskToken=token, error="ApprovalTimedOut", cause=step["StepStatus"])
    return {"is_approved": False}


@dataclass
class MultiLevel:
    sfn: Any
    ssm: Any
    parent_arn: str
    child_arn: str
    input: dict[str, Any]
    approver_roles: dict[int, str]
    topics: dict[int, str]

    def start(self) -> str:
        response = self.sfn.start_execution(
            stateMachineArn=self.parent_arn, input=json.dumps(self.input)
        )
        return str(response["executionArn"])

    def waiting_automation(self, level: int, settle: Callable[..., None]) -> dict[str, Any]:
        """The Waiting approval of `level` (the child started it through the start Lambda)."""

        def find() -> dict[str, Any] | None:
            listing = self.ssm.describe_automation_executions(
                Filters=[{"Key": "ExecutionStatus", "Values": ["Waiting"]}]
            )["AutomationExecutionMetadataList"]
            for item in listing:
                execution = self.ssm.get_automation_execution(
                    AutomationExecutionId=item["AutomationExecutionId"]
                )["AutomationExecution"]
                if execution["Parameters"]["NotificationArn"] == [self.topics[level]]:
                    return dict(execution)
            return None

        return wait_for(find, settle)

    def finished(self, execution_arn: str, settle: Callable[..., None]) -> dict[str, Any]:
        return wait_for(lambda: stopped(self.sfn, execution_arn), settle)

    def entered_states(self, execution_arn: str) -> list[str]:
        return entered_states(self.sfn, execution_arn)


def wait_for(probe: Callable[[], Any], settle: Callable[..., None], timeout: float = 15) -> Any:
    # Step Functions executions run on moto's own threads, which settle() does not track.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        settle()
        found = probe()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the flow")


@pytest.fixture
def flow(
    aws: object,
    monkeypatch: pytest.MonkeyPatch,
    create_runbook: Callable[..., str],
    deploy_lambda: Callable[..., str],
    create_role: Callable[[str], str],
) -> MultiLevel:
    # moto polls a `.sync` child every 0.5 s; the levels here finish in milliseconds.
    monkeypatch.setattr(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", 0.1)
    create_runbook(DOCUMENT, "ssm_sfn_approval_document.yaml")
    start_arn = deploy_lambda("LambdaForSsmStartAutomationExecution", start_approval)
    result_arn = deploy_lambda("AutomationResultReceivedByLambda", automation_result)
    events = boto3.client("events", region_name=REGION)
    events.put_rule(
        Name="EventRuleForAutomationResult",
        EventPattern=json.dumps(
            {
                "source": ["aws.ssm"],
                "detail-type": ["EC2 Automation Step Status-change Notification"],
                "detail": {
                    "Definition": [DOCUMENT],
                    "Status": ["Success", "Failed", "TimedOut"],
                    "Action": ["aws:approve"],
                },
            }
        ),
    )
    events.put_targets(
        Rule="EventRuleForAutomationResult",
        Targets=[{"Id": "EventRuleForAutomationResultTarget", "Arn": result_arn}],
    )
    sns = boto3.client("sns", region_name=REGION)
    topics = {
        n: sns.create_topic(Name=f"AutomationApprovalNotificationLevel{n}")["TopicArn"]
        for n in LEVELS
    }
    roles = {n: create_role(f"Level{n}Approvers") for n in LEVELS}
    sfn = boto3.client("stepfunctions", region_name=REGION)
    workflow_role = create_role("StepFunctionsWithSsmAutomationApproval")
    child_definition = (FIXTURES / "sfn_approval_child.json").read_text()
    child_arn = sfn.create_state_machine(
        name="StepFunctionsWithSsmAutomationApproval",
        definition=child_definition.replace("${StartFunctionArn}", start_arn),
        roleArn=workflow_role,
    )["stateMachineArn"]
    parent_definition = (FIXTURES / "sfn_approval_parent.json").read_text()
    parent_arn = sfn.create_state_machine(
        name="StepFunctionsCallerForApprovalFlow",
        definition=parent_definition.replace("${ChildStateMachineArn}", child_arn),
        roleArn=workflow_role,
    )["stateMachineArn"]
    flow_input: dict[str, Any] = {
        "region": REGION,
        "ssm_automation_assume_role": workflow_role,
        "ssm_doc_name": DOCUMENT,
        "ssm_description": "Automation Approval Action For AWS Step Functions.",
    }
    for n in LEVELS:
        flow_input |= {
            f"level{n}_ssm_notification_arn": topics[n],
            f"level{n}_ssm_approvers": roles[n],
            f"level{n}_ssm_min_required_approvals": "1",
            f"level{n}_confirmation_url": "https://example.com/",
            f"level{n}_confirmation_file": f"level{n}.html",
        }
    return MultiLevel(
        sfn=sfn,
        ssm=boto3.client("ssm", region_name=REGION),
        parent_arn=parent_arn,
        child_arn=child_arn,
        input=flow_input,
        approver_roles=roles,
        topics=topics,
    )


def decide(
    flow: MultiLevel,
    level: int,
    kind: str,
    settle: Callable[..., None],
    role_session: Callable[[str, str], boto3.Session],
) -> dict[str, Any]:
    automation = flow.waiting_automation(level, settle)
    approver = role_session(flow.approver_roles[level], f"U00{level}")
    approver.client("ssm").send_automation_signal(
        AutomationExecutionId=automation["AutomationExecutionId"], SignalType=kind
    )
    return automation


def test_three_approved_levels_run_the_parent_to_success(
    flow: MultiLevel,
    engine_settle: Callable[..., None],
    role_session: Callable[[str, str], boto3.Session],
) -> None:
    parent = flow.start()

    automations = [decide(flow, n, "Approve", engine_settle, role_session) for n in LEVELS]
    result = flow.finished(parent, engine_settle)

    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"is_approved": True}
    assert flow.entered_states(parent)[-1] == "Approved"
    for n, automation in zip(LEVELS, automations, strict=True):
        assert automation["Parameters"]["Approvers"] == [flow.approver_roles[n]]
        assert automation["Parameters"]["SfnToken"][0]
        assert f"level{n}.html" in automation["Parameters"]["Message"][0]
    children = flow.sfn.list_executions(stateMachineArn=flow.child_arn)["executions"]
    assert sorted(c["status"] for c in children) == ["SUCCEEDED"] * 3
    for child in children:
        described = flow.sfn.describe_execution(executionArn=child["executionArn"])
        assert (
            json.loads(described["input"])["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] == parent
        )


def test_a_rejection_at_level_two_ends_the_flow_as_rejected(
    flow: MultiLevel,
    engine_settle: Callable[..., None],
    role_session: Callable[[str, str], boto3.Session],
) -> None:
    parent = flow.start()

    decide(flow, 1, "Approve", engine_settle, role_session)
    decide(flow, 2, "Reject", engine_settle, role_session)
    result = flow.finished(parent, engine_settle)

    assert result["status"] == "SUCCEEDED"  # the seed's Rejected state is a Succeed state
    assert json.loads(result["output"]) == {"is_approved": False}
    states = flow.entered_states(parent)
    assert states[-1] == "Rejected"
    assert "Level3ExecutionStepFunctionsWithSsmAutomationApproval" not in states
    assert len(flow.ssm.describe_automation_executions()["AutomationExecutionMetadataList"]) == 2


def test_a_timed_out_approval_fails_the_waiting_task(
    flow: MultiLevel, engine_settle: Callable[..., None], clock: Clock
) -> None:
    parent = flow.start()
    flow.waiting_automation(1, engine_settle)

    clock.advance(604800)
    result = flow.finished(parent, engine_settle)

    assert result["status"] == "FAILED"
    (child,) = flow.sfn.list_executions(stateMachineArn=flow.child_arn)["executions"]
    assert child["status"] == "FAILED"
    child_history = flow.sfn.get_execution_history(executionArn=child["executionArn"])["events"]
    failures = [e["taskFailedEventDetails"] for e in child_history if e["type"] == "TaskFailed"]
    assert failures[0]["error"] == "ApprovalTimedOut"


def test_a_definition_moto_refused_is_refused_every_time_and_an_accepted_one_is_not(
    aws: Any,
) -> None:
    # The sandbox remembers the definitions moto's grammar accepted (sandbox/aws/patches.py);
    # it must not remember a refusal as an acceptance.
    sfn = boto3.client("stepfunctions", region_name=REGION)
    role = "arn:aws:iam::123456789012:role/not-checked-here"
    broken = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "NoSuchType"}}})
    good = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})

    for attempt in ("first", "second"):
        with pytest.raises(ClientError, match="ASLParserException"):
            sfn.create_state_machine(name=f"broken-{attempt}", definition=broken, roleArn=role)
        sfn.create_state_machine(name=f"good-{attempt}", definition=good, roleArn=role)

    names = {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    assert names == {"good-first", "good-second"}
