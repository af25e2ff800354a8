"""An integration world: moto with the SSM engine, Signoff's functions, the Slack emulator.

Everything a user's deployment has, in one process: the approval document, an Automation*
topic subscribed to the notice function, an EventBridge rule to the result function, the Slack
request URL served by the real Lambda adapter (through Lambda's Invoke API, so lazy listeners
re-invoke the function asynchronously), and the Slack emulator as the Web API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import yaml

from sandbox.demo import SlackActions
from sandbox.provision import code_package
from sandbox.runtime import serve_function_url
from sandbox.template import load_template, ssm_document_content

ACCOUNT = "123456789012"  # moto's default account: obviously not a real one
REGION = "us-east-1"
BOT_TOKEN = "xoxb-0000000000-test-token-not-real"
SIGNING_SECRET = "sandbox-signing-secret-not-real"
APPROVAL_DOCUMENT = "Signoff-Approval"
TOPIC_NAME = "AutomationApprovalTest"
CHANNEL = "C0APPROVALS"
APPROVER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SignoffApprover"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SomeoneElse"

FUNCTIONS = {
    "signoff-slack-events": "handlers.slack_events.lambda_handler",
    "signoff-approval-notice": "handlers.approval_notice.lambda_handler",
    "signoff-automation-result": "handlers.automation_result.lambda_handler",
    "signoff-reconcile": "handlers.reconcile.lambda_handler",
}
TABLES = {
    "signoff-approvals": [("pk", "HASH"), ("sk", "RANGE")],
    "signoff-audit": [("pk", "HASH"), ("sk", "RANGE")],
    "signoff-identities": [("slack_user_id", "HASH")],
    "signoff-idempotency": [("id", "HASH")],
}


def settings_env(slack_api_url: str, **extra: str) -> dict[str, str]:
    """The variables the SAM template gives every function, pointed at this world."""
    return {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "SIGNOFF_APPROVALS_TABLE": "signoff-approvals",
        "SIGNOFF_AUDIT_TABLE": "signoff-audit",
        "SIGNOFF_IDENTITIES_TABLE": "signoff-identities",
        "SIGNOFF_IDEMPOTENCY_TABLE": "signoff-idempotency",
        "SIGNOFF_DEFAULT_CHANNEL": CHANNEL,
        "SIGNOFF_APPROVAL_DOCUMENT": APPROVAL_DOCUMENT,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "POWERTOOLS_SERVICE_NAME": "signoff",
        **extra,
    }


@dataclass
class World(SlackActions):
    """The world's AWS side; acting in Slack comes from `sandbox.demo.SlackActions`."""

    session: boto3.Session
    slack_url: str
    bot_url: str
    topic_arn: str
    settle_engine: Any
    env: dict[str, str] = field(default_factory=dict)
    emulator: Any = None  # the SlackEmulator itself, for what the control API does not offer

    # -- AWS ----------------------------------------------------------------------------------

    def client(self, service: str, **kwargs: Any) -> Any:
        return self.session.client(service, region_name=REGION, **kwargs)

    def map_user(
        self,
        slack_user_id: str,
        name: str,
        role_arn: str | None = APPROVER_ROLE,
        iam_user: str | None = None,
    ) -> None:
        item = {"slack_user_id": slack_user_id, "display_name": name}
        if role_arn:
            item["role_arn"] = role_arn
        if iam_user:
            item["iam_user"] = iam_user
        self.session.resource("dynamodb", region_name=REGION).Table("signoff-identities").put_item(
            Item=item
        )

    def start_approval(
        self,
        approvers: list[str],
        min_required: int = 1,
        message: str = "Deploy build 42 to prod",
        notification_arn: str | None = None,
    ) -> str:
        response = self.client("ssm").start_automation_execution(
            DocumentName=APPROVAL_DOCUMENT,
            Parameters={
                "Description": ["Production deploy"],
                "Message": [message],
                "NotificationArn": [notification_arn or self.topic_arn],
                "Approvers": approvers,
                "MinRequiredApprovals": [str(min_required)],
            },
        )
        self.settle()
        return str(response["AutomationExecutionId"])

    def approve_step(self, execution_id: str) -> dict[str, Any]:
        steps = self.client("ssm").describe_automation_step_executions(
            AutomationExecutionId=execution_id,
            Filters=[{"Key": "Action", "Values": ["aws:approve"]}],
        )["StepExecutions"]
        return dict(steps[0])

    def execution_status(self, execution_id: str) -> str:
        execution = self.client("ssm").get_automation_execution(AutomationExecutionId=execution_id)
        return str(execution["AutomationExecution"]["AutomationExecutionStatus"])

    def audit(self, execution_id: str) -> list[dict[str, Any]]:
        table = self.session.resource("dynamodb", region_name=REGION).Table("signoff-audit")
        items = table.query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": execution_id}
        )["Items"]
        return sorted(items, key=lambda i: str(i["sk"]))

    def settle(self) -> None:
        """Wait until the engine, async Lambdas (lazy listeners, SNS, EventBridge) are idle."""
        self.settle_engine()


make_zip = code_package  # moto wants a code package; handlers run in-process


def provision(session: boto3.Session, env: Mapping[str, str]) -> str:
    """Create what the SAM template would, for flow A; returns the approval topic ARN."""
    dynamodb = session.client("dynamodb", region_name=REGION)
    for name, keys in TABLES.items():
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
        )
    iam = session.client("iam", region_name=REGION)
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    role = iam.create_role(RoleName="signoff-bot", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    for name in ("SignoffApprover", "SomeoneElse"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    lam = session.client("lambda", region_name=REGION)
    arns = {}
    for name, handler in FUNCTIONS.items():
        arns[name] = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=handler,
            Code={"ZipFile": make_zip()},
            Timeout=30,
            MemorySize=256,
            Environment={"Variables": dict(env)},
        )["FunctionArn"]
    ssm = session.client("ssm", region_name=REGION)
    ssm.create_document(
        Name=APPROVAL_DOCUMENT,
        Content=yaml.safe_dump(
            ssm_document_content(
                load_template(),
                "ApprovalDocument",
                refs={"AutomationRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/signoff-automation"},
            ),
            sort_keys=False,
        ),
        DocumentType="Automation",
        DocumentFormat="YAML",
    )
    sns = session.client("sns", region_name=REGION)
    topic_arn = str(sns.create_topic(Name=TOPIC_NAME)["TopicArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=arns["signoff-approval-notice"])
    events = session.client("events", region_name=REGION)
    events.put_rule(
        Name="signoff-ssm-status",
        EventPattern=json.dumps(
            {
                "source": ["aws.ssm"],
                "detail-type": [
                    "EC2 Automation Step Status-change Notification",
                    "EC2 Automation Execution Status-change Notification",
                ],
                "detail": {"Definition": [APPROVAL_DOCUMENT]},
            }
        ),
    )
    events.put_targets(
        Rule="signoff-ssm-status",
        Targets=[{"Id": "result", "Arn": arns["signoff-automation-result"]}],
    )
    return topic_arn


@contextmanager
def slack_request_url(session: boto3.Session) -> Iterator[str]:
    """The Slack request URL: a Function URL in front of the slack_events function."""
    lam = session.client("lambda", region_name=REGION)
    with serve_function_url(lam, "signoff-slack-events") as url:
        yield f"{url}/slack/events"


def wait_for(predicate: Any, timeout: float = 10.0, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.05)
