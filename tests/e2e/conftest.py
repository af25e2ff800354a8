"""A sandbox per test module on free ports, driven over HTTP: AWS endpoint, Slack control API.

Starting one costs ~3 s (deploying the template), so a module shares it (`running_sandbox`, in
tests/conftest.py); each test finds its own cards by execution id or reason, not by position.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import requests

from sandbox.demo import SlackActions
from sandbox.runtime import REGION, Sandbox

FAKE_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class SandboxClient(SlackActions):
    """What a user (or a script) of a running sandbox has: its URLs."""

    aws_url: str
    slack_url: str
    outputs: dict[str, str] = field(default_factory=dict)

    def aws(self, service: str, **credentials: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws_url,
            region_name=REGION,
            **(credentials or FAKE_KEYS),
        )

    def settle(self) -> None:
        # Lazy listeners, SNS and EventBridge deliveries and the engine run on background
        # threads; work one round starts (a notice from a step) is done by the next.
        for _ in range(2):
            reply = requests.post(
                f"{self.aws_url}/_sandbox/settle", json={"timeout": 10}, timeout=15
            )
            assert reply.status_code == 200, reply.text

    def control_aws(self, method: str, path: str) -> Any:
        """The local AWS's control API (`/_sandbox/<path>`), its JSON answer."""
        reply = requests.request(method, f"{self.aws_url}/_sandbox/{path}", timeout=15)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def role_arn(self, logical_name: str) -> str:
        """An approver role the template created, e.g. "Level1ApproverRole"."""
        arns = self.outputs["ApproverRoleArns"].split(",")
        return next(a for a in arns if f"-{logical_name}-" in a)

    def as_role(self, role_arn: str, session_name: str) -> dict[str, str]:
        """Credentials of one session of a role, as someone using the AWS CLI would get them."""
        creds = self.aws("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)[
            "Credentials"
        ]
        return {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }

    def start_approval(self, message: str, level: int = 1) -> str:
        """Run the template's approval document, as any runbook with an aws:approve step."""
        started = self.aws("ssm").start_automation_execution(
            DocumentName=self.outputs["ApprovalDocumentName"],
            Parameters={
                "Description": ["Production deploy"],
                "Message": [message],
                "NotificationArn": [self.outputs[f"Level{level}TopicArn"]],
                "Approvers": [self.role_arn(f"Level{level}ApproverRole")],
            },
        )
        self.settle()
        return str(started["AutomationExecutionId"])

    def execution(self, execution_id: str) -> dict[str, Any]:
        return dict(
            self.aws("ssm").get_automation_execution(AutomationExecutionId=execution_id)[
                "AutomationExecution"
            ]
        )

    def decisions(self, execution_id: str) -> list[dict[str, Any]]:
        steps = self.aws("ssm").describe_automation_step_executions(
            AutomationExecutionId=execution_id,
            Filters=[{"Key": "Action", "Values": ["aws:approve"]}],
        )["StepExecutions"]
        outputs = steps[0].get("Outputs", {})
        return [json.loads(d) for d in outputs.get("ApproverDecisions", [])]

    def dms(self, user: str) -> list[str]:
        return [m["text"] for m in self.messages(f"@{user}")]


@pytest.fixture
def sandbox(running_sandbox: Sandbox) -> Iterator[SandboxClient]:
    client = SandboxClient(aws_url=running_sandbox.aws_url, slack_url=running_sandbox.slack_url)
    stack = client.aws("cloudformation").describe_stacks(StackName="signoff")["Stacks"][0]
    client.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    yield client
    client.settle()


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "it") -> Any:
    """Poll a condition that depends on work the sandbox does in threads settle cannot see."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
