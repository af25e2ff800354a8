"""StepFunctionsGateway: SendTask* and DescribeExecution, ClientError turned into domain errors."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from bot.errors import ServiceError, TransientError
from bot.gateways.stepfunctions import StepFunctionsGateway, TaskClosed

TOKEN = "AQC-secret-task-token-" + "t" * 100


def stubbed() -> tuple[StepFunctionsGateway, Stubber]:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    return StepFunctionsGateway(client), Stubber(client)


def test_success_sends_the_output_as_json() -> None:
    gateway, stub = stubbed()
    output = {"is_approved": True, "decided_by": ["arn:aws:iam::123456789012:user/alice"]}
    stub.add_response(
        "send_task_success",
        {},
        {"taskToken": TOKEN, "output": json.dumps(output, separators=(",", ":"))},
    )
    with stub:
        gateway.send_task_success(TOKEN, output)
    stub.assert_no_pending_responses()


def test_failure_sends_error_and_cause_within_the_api_limits() -> None:
    gateway, stub = stubbed()
    stub.add_response(
        "send_task_failure",
        {},
        {"taskToken": TOKEN, "error": "E" * 256, "cause": "c" * 32768},
    )
    with stub:
        gateway.send_task_failure(TOKEN, "E" * 300, "c" * 40000)
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])
def test_a_closed_token_is_task_closed_and_the_message_is_not_kept(code: str) -> None:
    gateway, stub = stubbed()
    stub.add_client_error("send_task_success", code, f"Invalid Token: '{TOKEN}'")
    with stub, pytest.raises(TaskClosed) as closed:
        gateway.send_task_success(TOKEN, {"is_approved": False})
    assert closed.value.code == code
    assert TOKEN not in str(closed.value)
    assert closed.value.__cause__ is None and closed.value.__suppress_context__


def test_throttling_is_transient_and_other_refusals_name_the_code_only() -> None:
    gateway, stub = stubbed()
    stub.add_client_error("send_task_failure", "ThrottlingException", f"slow down {TOKEN}")
    stub.add_client_error("send_task_failure", "AccessDeniedException", f"denied for {TOKEN}")
    with stub:
        with pytest.raises(TransientError):
            gateway.send_task_failure(TOKEN, "Signoff.ApprovalTimedOut", "late")
        with pytest.raises(ServiceError) as refused:
            gateway.send_task_failure(TOKEN, "Signoff.ApprovalTimedOut", "late")
    assert "AccessDeniedException" in str(refused.value) and TOKEN not in str(refused.value)


@mock_aws
def test_describe_execution_reads_status_and_none_when_missing() -> None:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    iam_role = "arn:aws:iam::123456789012:role/sfn"
    machine = client.create_state_machine(
        name="ApprovalFlow",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=iam_role,
    )["stateMachineArn"]
    arn = client.start_execution(stateMachineArn=machine, name="deploy-42")["executionArn"]
    gateway = StepFunctionsGateway(client)
    execution = gateway.describe_execution(arn)
    assert execution is not None
    assert execution.name == "deploy-42" and execution.state_machine_arn == machine
    assert execution.status in {"RUNNING", "SUCCEEDED"}
    missing = arn.replace("deploy-42", "nope")
    assert gateway.describe_execution(missing) is None
