"""An integration world: infra/template.yaml deployed into moto, the SSM engine, Slack's emulator.

The world is the sandbox's stack in one test process: `sandbox.provision.deploy` (SAM transform,
moto's CloudFormation, the sandbox's substitutes) creates every table, role, topic, function,
rule, secret, document and state machine from the template, and
`sandbox.provision.configure_functions` points the functions at the Slack emulator, as
`signoff sandbox` does; a changed resource in the template is a changed world. What the world
adds is what a test needs and a deployment does not have: the emulator (and its Slack
credentials in the template's secret), two IAM roles people act through, no posting pace, and
the Slack request URL (the stack's Function URL, served on loopback by the real Lambda adapter
through Lambda's Invoke API, so lazy listeners re-invoke the function asynchronously).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from sandbox.demo import SlackActions
from sandbox.provision import Stack, configure_functions, deploy
from sandbox.runtime import serve_function_url
from sandbox.template import TEMPLATE_PATH, load_template, resolver

ACCOUNT = "123456789012"  # moto's default account: obviously not a real one
REGION = "us-east-1"
BOT_TOKEN = "xoxb-fake-not-a-real-token"
SIGNING_SECRET = "sandbox-signing-secret-not-real"
CHANNEL = "C0APPROVALS"  # the emulator's #approvals
# People act through these roles; the template's approver roles are the flows' own.
APPROVER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SignoffApprover"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SomeoneElse"
# The stack's names (the template names its functions after the stack, `signoff`).
SLACK_FUNCTION = "signoff-slack-events"
RESULT_FUNCTION = "signoff-automation-result"
APPROVAL_DOCUMENT = str(load_template()["Parameters"]["ApprovalDocumentName"]["Default"])

# The template parameters of every world: the emulator's workspace, app and #approvals. A test
# module asks for more by overriding the `world_parameters` fixture.
PARAMETERS = {
    "DefaultChannel": CHANNEL,
    "SlackTeamId": "T0SIGNOFF",
    "SlackAppId": "A0SIGNOFF",
    "ApproverRoleArns": f"{APPROVER_ROLE},{OTHER_ROLE}",
}
# What Lambda gives a function from its execution role (`configure_functions(as_roles=True)`).
ROLE_SESSION = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# The stack's table outputs by the kind `bot.config` names them.
TABLE_OUTPUTS = {
    "approvals": "ApprovalsTableName",
    "audit": "AuditTableName",
    "identities": "IdentitiesTableName",
    "idempotency": "IdempotencyTableName",
}


def world_variables(slack_api_url: str) -> dict[str, str]:
    """What the world adds to each function's template environment."""
    return {
        "SLACK_API_URL": slack_api_url,
        # The emulator enforces no posting limit unless a test asks for it: no pacing sleeps.
        "SIGNOFF_SLACK_POST_SPACING_MS": "0",
    }


@dataclass
class World(SlackActions):
    """The world's AWS side; acting in Slack comes from `sandbox.demo.SlackActions`."""

    session: boto3.Session
    stack: Stack
    slack_url: str
    bot_url: str
    settle_engine: Any
    env: dict[str, str] = field(default_factory=dict)  # the Slack function's, plus credentials
    emulator: Any = None  # the SlackEmulator itself, for what the control API does not offer

    # -- the stack ----------------------------------------------------------------------------

    @property
    def topic_arn(self) -> str:
        """An Automation* topic of the stack's, subscribed to the notice function (level 1)."""
        return self.stack.outputs["Level1TopicArn"]

    @property
    def approval_document(self) -> str:
        return self.stack.outputs["ApprovalDocumentName"]

    def table(self, kind: str) -> str:
        """The stack's `kind` table ("approvals", "audit", "identities", "idempotency")."""
        return self.stack.outputs[TABLE_OUTPUTS[kind]]

    def result_rules(self) -> list[str]:
        """The stack's EventBridge rules that send SSM's status events to the result function."""
        return [
            self.stack.physical_id(f"AutomationResultFunction{name}") for name in result_patterns()
        ]

    def role_arn(self, logical_id: str) -> str:
        """The ARN of the stack's role `logical_id` (ApprovalFlowStateMachineRole…)."""
        name = self.stack.physical_id(logical_id)
        return str(self.client("iam").get_role(RoleName=name)["Role"]["Arn"])

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
        self._table("identities").put_item(Item=item)

    def unmap_user(self, slack_user_id: str) -> None:
        """As `signoff users unmap` run elsewhere would: the table changes, no function is told."""
        self._table("identities").delete_item(Key={"slack_user_id": slack_user_id})

    def start_approval(
        self,
        approvers: list[str],
        min_required: int = 1,
        message: str = "Deploy build 42 to prod",
        notification_arn: str | None = None,
    ) -> str:
        response = self.client("ssm").start_automation_execution(
            DocumentName=self.approval_document,
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
        items = self._table("audit").query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": execution_id}
        )["Items"]
        return sorted(items, key=lambda i: str(i["sk"]))

    def settle(self) -> None:
        """Wait until the engine, async Lambdas (lazy listeners, SNS, EventBridge) are idle."""
        self.settle_engine()

    def _table(self, kind: str) -> Any:
        return self.session.resource("dynamodb", region_name=REGION).Table(self.table(kind))

    # -- what tests add -----------------------------------------------------------------------

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
        """An Automation runbook from YAML text (a runbook of the operator's own)."""
        self.client("ssm").create_document(
            Name=name, Content=content, DocumentType="Automation", DocumentFormat="YAML"
        )


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


@dataclass(frozen=True)
class Provisioned:
    stack: Stack
    env: dict[str, str]  # the Slack function's variables, plus the Slack credentials


def provision(
    session: boto3.Session,
    slack_api_url: str,
    parameters: Mapping[str, str] | None = None,
    template_path: Path | str = TEMPLATE_PATH,
) -> Provisioned:
    """Deploy the template as the sandbox does, point its functions at the emulator, and add
    the people's roles."""
    merged = {**PARAMETERS, **(parameters or {})}
    stack = deploy(session, merged, template_path=template_path)
    # Each function runs as its template role; with `sandbox.aws.access` enforcing (the world
    # fixture turns it on), a call its role's policies do not allow is refused, as on AWS.
    configured = configure_functions(
        session,
        stack,
        world_variables(slack_api_url),
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        as_roles=True,
    )
    # The people's roles are the operator's own approver roles (ApproverRoleArns), trusting
    # and allowed what the template's own approver roles trust and are allowed.
    template = load_template(template_path)
    bot_role = f"arn:aws:iam::{ACCOUNT}:role/{stack.physical_id('SlackEventsRole')}"
    resolve = resolver(
        template, merged, refs={"SlackEventsRole.Arn": bot_role}, pseudo={"AWS::Region": REGION}
    )
    approver = resolve.resolve(template["Resources"]["Level1ApproverRole"]["Properties"])
    iam = session.client("iam", region_name=REGION)
    for role_arn in (APPROVER_ROLE, OTHER_ROLE):
        name = role_arn.rsplit("/", 1)[1]
        trust = json.dumps(approver["AssumeRolePolicyDocument"])
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        for policy in approver["Policies"]:
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
    [slack] = (f for f in configured if f.name == SLACK_FUNCTION)
    env = {
        # For code run in the test's own process (`signoff dev`, a handler called directly),
        # which acts with the process's credentials, as the test itself does.
        **{k: v for k, v in slack.variables.items() if k not in ROLE_SESSION},
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    }
    return Provisioned(stack, env)


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


@contextmanager
def slack_request_url(session: boto3.Session) -> Iterator[str]:
    """The Slack request URL: the stack's Function URL in front of the slack_events function."""
    lam = session.client("lambda", region_name=REGION)
    with serve_function_url(lam, SLACK_FUNCTION) as url:
        yield f"{url}/slack/events"
