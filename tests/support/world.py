"""An integration world: moto with the SSM engine, Signoff's functions, the Slack emulator.

Everything a user's deployment has, in one process: the approval document, an Automation*
topic subscribed to the notice function, an EventBridge rule to the result function, the Slack
request URL served by the real Lambda adapter (through Lambda's Invoke API, so lazy listeners
re-invoke the function asynchronously), and the Slack emulator as the Web API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import yaml

from sandbox.demo import SlackActions
from sandbox.provision import code_package
from sandbox.runtime import serve_function_url
from sandbox.template import (
    load_template,
    resolver,
    ssm_document_content,
    state_machine_definition,
)
from tests.support.dynamo import create_table

ACCOUNT = "123456789012"  # moto's default account: obviously not a real one
REGION = "us-east-1"
BOT_TOKEN = "xoxb-fake-not-a-real-token"
SIGNING_SECRET = "sandbox-signing-secret-not-real"
APPROVAL_DOCUMENT = "Signoff-Approval"
TOPIC_NAME = "AutomationApprovalTest"
CHANNEL = "C0APPROVALS"
APPROVER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SignoffApprover"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SomeoneElse"
BOT_ROLE = "signoff-bot"
RESULT_FUNCTION = "signoff-automation-result"

FUNCTIONS = {
    "signoff-slack-events": "handlers.slack_events.lambda_handler",
    "signoff-approval-notice": "handlers.approval_notice.lambda_handler",
    "signoff-automation-result": "handlers.automation_result.lambda_handler",
    "signoff-reconcile": "handlers.reconcile.lambda_handler",
}
TABLES = {
    "signoff-approvals": "approvals",
    "signoff-audit": "audit",
    "signoff-identities": "identities",
    "signoff-idempotency": "idempotency",
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
        # The emulator's workspace and app (sandbox/slack/workspace.py).
        "SIGNOFF_SLACK_TEAM_ID": "T0SIGNOFF",
        "SIGNOFF_SLACK_APP_ID": "A0SIGNOFF",
        "POWERTOOLS_SERVICE_NAME": "signoff",
        # The emulator enforces no posting limit unless a test asks for it: no pacing sleeps.
        "SIGNOFF_SLACK_POST_SPACING_MS": "0",
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

    def unmap_user(self, slack_user_id: str) -> None:
        """As `signoff users unmap` run elsewhere would: the table changes, no function is told."""
        self.session.resource("dynamodb", region_name=REGION).Table(
            "signoff-identities"
        ).delete_item(Key={"slack_user_id": slack_user_id})

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

    # -- deploying more of the template (flows B and C) ---------------------------------------

    def function_arn(self, name: str) -> str:
        function = self.client("lambda").get_function(FunctionName=name)
        return str(function["Configuration"]["FunctionArn"])

    def add_function(
        self, name: str, handler: str, env: Mapping[str, str], timeout: int = 30
    ) -> str:
        """One more of the template's functions, run in-process as the bot's role; its ARN."""
        return _create_function(
            self.client("lambda"), name, handler, self._bot_role(), env, timeout
        )

    def set_env(self, env: Mapping[str, str], *functions: str) -> None:
        """Give `functions` these variables, as a stack update with new parameters would."""
        lam = self.client("lambda")
        for name in functions:
            lam.update_function_configuration(
                FunctionName=name, Environment={"Variables": dict(env)}
            )

    def add_role(self, name: str, service: str) -> str:
        """A role that the AWS `service` (`lambda`, `ssm`) may assume; its ARN."""
        iam = self.client("iam")
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy(service))
        return str(role["Role"]["Arn"])

    def add_document(self, name: str, content: str) -> None:
        """An Automation runbook from YAML text."""
        _create_document(self.client("ssm"), name, content)

    def add_notice_topic(self, name: str) -> str:
        """An Automation* topic subscribed to the notice function; its ARN."""
        return _notice_topic(self.client("sns"), name, self.function_arn("signoff-approval-notice"))

    def route_to_result(self, rule: str, pattern: Mapping[str, Any]) -> None:
        """An EventBridge rule that sends SSM's matching status events to the result function."""
        _result_rule(self.client("events"), rule, pattern, self.function_arn(RESULT_FUNCTION))

    def add_state_machine(
        self,
        name: str,
        logical_id: str,
        substitutions: Mapping[str, str],
        parameters: Mapping[str, str] | None = None,
    ) -> str:
        """The template's state machine `logical_id`, its substitutions filled in; its ARN."""
        definition = state_machine_definition(
            load_template(), logical_id, substitutions=substitutions, parameters=parameters
        )
        created = self.client("stepfunctions").create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=self._bot_role()
        )
        return str(created["stateMachineArn"])

    def _bot_role(self) -> str:
        return str(self.client("iam").get_role(RoleName=BOT_ROLE)["Role"]["Arn"])


make_zip = code_package  # moto wants a code package; handlers run in-process


def trust_policy(service: str) -> str:
    """An assume-role policy document that lets the AWS `service` assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": f"{service}.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def provision(session: boto3.Session, env: Mapping[str, str]) -> str:
    """Create what the SAM template would, for flow A; returns the approval topic ARN."""
    dynamodb = session.client("dynamodb", region_name=REGION)
    for name, kind in TABLES.items():
        create_table(dynamodb, kind, name)
    iam = session.client("iam", region_name=REGION)
    trust = trust_policy("lambda")
    role = iam.create_role(RoleName=BOT_ROLE, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    for name in ("SignoffApprover", "SomeoneElse"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    lam = session.client("lambda", region_name=REGION)
    arns = {
        name: _create_function(lam, name, handler, role, env) for name, handler in FUNCTIONS.items()
    }
    document = ssm_document_content(
        load_template(),
        "ApprovalDocument",
        refs={"AutomationRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/signoff-automation"},
    )
    _create_document(
        session.client("ssm", region_name=REGION),
        APPROVAL_DOCUMENT,
        yaml.safe_dump(document, sort_keys=False),
    )
    topic_arn = _notice_topic(
        session.client("sns", region_name=REGION), TOPIC_NAME, arns["signoff-approval-notice"]
    )
    events = session.client("events", region_name=REGION)
    for rule, pattern in result_patterns().items():
        _result_rule(events, f"signoff-{rule}", pattern, arns[RESULT_FUNCTION])
    return topic_arn


def result_patterns() -> dict[str, Any]:
    """The template's EventBridge rules to the result function: name -> event pattern."""
    template = load_template()
    events = template["Resources"]["AutomationResultFunction"]["Properties"]["Events"]
    resolve = resolver(template)
    return {
        name: resolve.resolve(spec["Properties"]["Pattern"])
        for name, spec in events.items()
        if spec["Type"] == "EventBridgeRule"
    }


def _create_function(
    lam: Any, name: str, handler: str, role: str, env: Mapping[str, str], timeout: int = 30
) -> str:
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=handler,
        Code={"ZipFile": make_zip()},
        Timeout=timeout,
        MemorySize=256,
        Environment={"Variables": dict(env)},
    )
    return str(created["FunctionArn"])


def _create_document(ssm: Any, name: str, content: str) -> None:
    ssm.create_document(
        Name=name, Content=content, DocumentType="Automation", DocumentFormat="YAML"
    )


def _notice_topic(sns: Any, name: str, notice_arn: str) -> str:
    topic_arn = str(sns.create_topic(Name=name)["TopicArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=notice_arn)
    return topic_arn


def _result_rule(events: Any, rule: str, pattern: Mapping[str, Any], result_arn: str) -> None:
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "result", "Arn": result_arn}])


@contextmanager
def slack_request_url(session: boto3.Session) -> Iterator[str]:
    """The Slack request URL: a Function URL in front of the slack_events function."""
    lam = session.client("lambda", region_name=REGION)
    with serve_function_url(lam, "signoff-slack-events") as url:
        yield f"{url}/slack/events"
