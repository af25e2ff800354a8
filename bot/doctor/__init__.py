"""`signoff doctor`: check a deployed Signoff and say, for each problem, how to fix it.

One module per concern: slack.py (the secret and the app), tables.py, roles.py (approver roles,
answered by IAM's policy simulator), topics.py; findings.py holds what they report.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3

from bot.config import Settings, aws_region
from bot.doctor.findings import Finding, Target, target_from_outputs, target_from_settings
from bot.doctor.roles import RoleChecks
from bot.doctor.slack import REQUIRED_BOT_SCOPES, SlackAuthTest, SlackChecks, slack_auth_test
from bot.doctor.tables import TableChecks
from bot.doctor.topics import TopicChecks
from bot.gateways.dynamo import TableAt
from bot.gateways.tables import IdentityStore
from bot.models import Identity
from bot.wiring import AWS_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient

__all__ = [
    "REQUIRED_BOT_SCOPES",
    "Doctor",
    "Finding",
    "SlackAuthTest",
    "Target",
    "register",
    "run",
    "slack_auth_test",
    "stack_outputs",
    "target_from_outputs",
    "target_from_settings",
]


class Doctor:
    """Every check over AWS clients passed in; none raises on an AWS error, each says it."""

    def __init__(
        self,
        *,
        secrets: SecretsManagerClient,
        dynamodb: DynamoDBClient,
        iam: IAMClient,
        sns: SNSClient,
        lambda_client: LambdaClient,
        region: str,
        slack_auth_test: SlackAuthTest | None = None,
    ) -> None:
        self.slack = SlackChecks(secrets, slack_auth_test)
        self.tables = TableChecks(dynamodb)
        self.roles = RoleChecks(iam, region)
        self.topics = TopicChecks(sns, lambda_client)

    def run(self, target: Target, identities: Callable[[], Sequence[Identity]]) -> list[Finding]:
        """Every check for `target`; `identities` is read only if the identities table exists."""
        findings = self.slack.run(target.slack_secret_arn)
        tables = self.tables.check_tables(target.tables)
        findings += tables
        if any(f.ok and f.subject.startswith("identities table") for f in tables):
            findings += self.roles.run(identities(), target.bot_role_arn)
        findings += self.topics.check_topics(target.topic_arns, target.notice_function_arn)
        return findings


def register(commands: Any) -> None:
    """Add `signoff doctor` to the CLI's sub-commands."""
    doctor = commands.add_parser(
        "doctor",
        help="check a deployed Signoff (secret, tables, approver roles, topics) and say how to "
        "fix what is wrong",
    )
    doctor.add_argument(
        "--stack",
        help="CloudFormation stack to read names from (its outputs); without it, the SIGNOFF_* "
        "and SLACK_SECRET_ARN variables and the flags below",
    )
    doctor.add_argument("--region", help="AWS region (default: AWS_REGION / your profile)")
    doctor.add_argument("--bot-role-arn", help="the role approver roles must trust (BotRoleArn)")
    doctor.add_argument(
        "--notice-function", help="ARN of the approval notice function (ApprovalNoticeFunctionArn)"
    )
    doctor.add_argument(
        "--topic",
        action="append",
        default=[],
        help="an Automation* approval topic ARN (repeatable; AutomationTopicArns)",
    )
    doctor.add_argument(
        "--skip-slack",
        action="store_true",
        help="do not call Slack's auth.test to check the bot token and its scopes",
    )
    doctor.set_defaults(run=run)


def run(args: argparse.Namespace, session: boto3.Session | None = None) -> int:
    """Run every check, print ✓/✗ lines with fixes; 1 when anything is wrong."""
    session = session or boto3.Session(region_name=args.region or aws_region())
    if not session.region_name:
        print("no AWS region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION")
        return 2
    if args.stack:
        target = target_from_outputs(stack_outputs(session.client("cloudformation"), args.stack))
    else:
        target = target_from_settings(Settings.from_env())
    target = Target(
        tables=target.tables,
        slack_secret_arn=target.slack_secret_arn,
        bot_role_arn=args.bot_role_arn or target.bot_role_arn,
        notice_function_arn=args.notice_function or target.notice_function_arn,
        topic_arns=tuple(args.topic) or target.topic_arns,
    )
    doctor = Doctor(
        secrets=session.client("secretsmanager", config=AWS_CONFIG),
        dynamodb=session.client("dynamodb", config=AWS_CONFIG),
        iam=session.client("iam", config=AWS_CONFIG),
        sns=session.client("sns", config=AWS_CONFIG),
        lambda_client=session.client("lambda", config=AWS_CONFIG),
        region=session.region_name or "us-east-1",
        slack_auth_test=(
            None
            if args.skip_slack
            else partial(slack_auth_test, api_url=getattr(args, "slack_api_url", None))
        ),
    )
    table = TableAt(
        session.client("dynamodb", config=AWS_CONFIG), target.tables.get("identities", "")
    )
    findings = doctor.run(target, lambda: IdentityStore(table).all())
    for finding in findings:
        print(finding.render())
    wrong = sum(not f.ok for f in findings)
    print(f"\n{len(findings) - wrong} ok, {wrong} to fix" if wrong else f"\nall {len(findings)} ok")
    return 1 if wrong else 0


def stack_outputs(cloudformation: CloudFormationClient, stack: str) -> dict[str, str]:
    """A stack's outputs by key."""
    [described] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
