"""AutomationGateway.get_approval: which SSM calls it makes for an execution's approve step."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from bot.gateways.automation import AutomationGateway
from bot.models import Outcome

EXECUTION_ID = "00000000-0000-4000-8000-00000000abcd"
ROLE = "arn:aws:iam::123456789012:role/Level1Approver"


def step(name: str, action: str, status: str = "Waiting") -> dict[str, object]:
    return {
        "StepName": name,
        "Action": action,
        "StepStatus": status,
        "Inputs": {"Approvers": f'["{ROLE}"]', "Message": '"Deploy v42"'},
    }


def execution(steps: list[dict[str, object]], *, truncated: bool) -> dict[str, object]:
    return {
        "AutomationExecution": {
            "AutomationExecutionId": EXECUTION_ID,
            "DocumentName": "Signoff-Approval",
            "AutomationExecutionStatus": "Waiting",
            "StepExecutions": steps,
            "StepExecutionsTruncated": truncated,
        }
    }


@pytest.fixture
def ssm() -> Iterator[tuple[AutomationGateway, Stubber]]:
    client = boto3.client(
        "ssm", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield AutomationGateway(client, "us-east-1"), stubber
        stubber.assert_no_pending_responses()


def test_the_steps_listed_with_the_execution_are_enough_when_not_truncated(
    ssm: tuple[AutomationGateway, Stubber],
) -> None:
    gateway, stubber = ssm
    listed = [step("prepare", "aws:executeScript", "Success"), step("approve", "aws:approve")]
    stubber.add_response(
        "get_automation_execution",
        execution(listed, truncated=False),
        {"AutomationExecutionId": EXECUTION_ID},
    )

    approval = gateway.get_approval(EXECUTION_ID)

    assert approval.step_name == "approve"
    assert approval.outcome is Outcome.WAITING
    assert approval.approvers == (ROLE,)
    assert approval.message == "Deploy v42"


def test_a_truncated_step_list_is_read_in_full_from_describe_step_executions(
    ssm: tuple[AutomationGateway, Stubber],
) -> None:
    gateway, stubber = ssm
    stubber.add_response(
        "get_automation_execution",
        execution([step("prepare", "aws:executeScript", "Success")], truncated=True),
        {"AutomationExecutionId": EXECUTION_ID},
    )
    stubber.add_response(
        "describe_automation_step_executions",
        {"StepExecutions": [step("approve", "aws:approve")]},
        {
            "AutomationExecutionId": EXECUTION_ID,
            "Filters": [{"Key": "Action", "Values": ["aws:approve"]}],
        },
    )

    approval = gateway.get_approval(EXECUTION_ID)

    assert approval.step_name == "approve"
    assert approval.approvers == (ROLE,)
