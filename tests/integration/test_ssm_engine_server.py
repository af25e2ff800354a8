"""Server mode: plain boto3 over HTTP against the sandbox server, and its control endpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import requests

import sandbox.aws
from sandbox.aws.server import SandboxServer
from tests.support.runbooks import KEY_REQUEST_DOCUMENT, start_key_request

REGION = "us-east-1"
ACCOUNT = "123456789012"


def control(
    server: SandboxServer, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    response = requests.request(method, f"{server.url}/_sandbox/{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def test_an_approval_over_http_with_assumed_role_credentials(server: SandboxServer) -> None:
    def client(service: str, **credentials: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=server.url, **credentials)

    iam, ssm = client("iam"), client("ssm")
    role_arn = iam.create_role(RoleName="ReleaseApprovers", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    # The local AWS holds role sessions to their roles' policies, as AWS does.
    iam.put_role_policy(
        RoleName="ReleaseApprovers",
        PolicyName="decide",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "ssm:SendAutomationSignal", "Resource": "*"}
                ],
            }
        ),
    )
    lambda_role = iam.create_role(RoleName="issuer", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    topic_arn = client("sns").create_topic(Name="AutomationRequests")["TopicArn"]
    ssm.create_document(
        Name=KEY_REQUEST_DOCUMENT,
        Content=_fixture("ssm_access_key_document.yaml"),
        DocumentType="Automation",
        DocumentFormat="YAML",
    )
    seen_by_issuer: list[str] = []

    def issue(event: dict[str, Any], context: Any) -> dict[str, str]:
        # A handler running inside the server reaches the same state with default boto3.
        automation = boto3.client("ssm").get_automation_execution(
            AutomationExecutionId=event["execution_id"]
        )["AutomationExecution"]
        seen_by_issuer.append(automation["StepExecutions"][0]["Outputs"]["ApprovalStatus"][0])
        return {"status": "created"}

    sandbox.aws.lambdas.register("SignoffTestIssueAccessKey", issue)
    client("lambda").create_function(
        FunctionName="SignoffTestIssueAccessKey",
        Runtime="python3.12",
        Role=lambda_role,
        Handler="issuer.lambda_handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},  # an empty zip: the code runs in-process
    )
    assert control(server, "GET", "health")["status"] == "ok"

    execution_id = start_key_request(ssm, topic_arn, [role_arn], "rotation")
    assert control(server, "POST", "settle") == {"idle": True}
    assert _status(ssm, execution_id) == "Waiting"

    creds = client("sts").assume_role(RoleArn=role_arn, RoleSessionName="U0ALICE")["Credentials"]
    approver = client(
        "ssm",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    approver.send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Approve", Payload={"Comment": ["ok"]}
    )
    control(server, "POST", "settle")

    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)[
        "AutomationExecution"
    ]
    assert execution["AutomationExecutionStatus"] == "Success"
    decision = json.loads(execution["StepExecutions"][0]["Outputs"]["ApproverDecisions"][0])
    assert decision["Approver"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ReleaseApprovers/U0ALICE"
    assert seen_by_issuer == ["Approved"]


def test_the_clock_endpoint_times_out_a_waiting_approval(server: SandboxServer) -> None:
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=server.url)
    sns = boto3.client("sns", region_name=REGION, endpoint_url=server.url)
    topic_arn = sns.create_topic(Name="AutomationRequests")["TopicArn"]
    ssm.create_document(
        Name=KEY_REQUEST_DOCUMENT,
        Content=_fixture("ssm_access_key_document.yaml"),
        DocumentType="Automation",
        DocumentFormat="YAML",
    )
    execution_id = start_key_request(ssm, topic_arn, ["alice"])
    control(server, "POST", "settle")
    before = control(server, "GET", "clock")["offset_seconds"]

    control(server, "POST", "clock/advance", {"seconds": 604800})
    control(server, "POST", "settle")

    assert control(server, "GET", "clock")["offset_seconds"] == before + 604800
    assert _status(ssm, execution_id) == "TimedOut"


def _status(ssm: Any, execution_id: str) -> str:
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)
    return str(execution["AutomationExecution"]["AutomationExecutionStatus"])


def _fixture(name: str) -> str:
    return (Path(__file__).resolve().parent.parent / "fixtures" / name).read_text()
