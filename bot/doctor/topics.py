"""Doctor's topic checks: each approval topic is named Automation…, is subscribed to the notice
function, and the function's resource policy lets SNS invoke it for that topic."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from bot.doctor.findings import Finding
from bot.doctor.policies import document, listed, matches, statements
from bot.gateways.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sns import SNSClient


class TopicChecks:
    """The approval topics against the notice function."""

    def __init__(self, sns: SNSClient, lambda_client: LambdaClient) -> None:
        self._sns = sns
        self._lambda = lambda_client

    def check_topics(self, topics: Sequence[str], function_arn: str | None) -> list[Finding]:
        if not topics:
            return [
                Finding(
                    False,
                    "approval topics",
                    "none named",
                    "pass --stack, or --topic <Automation* topic ARN> (stack output "
                    "AutomationTopicArns)",
                )
            ]
        if not function_arn:
            return [
                Finding(
                    False,
                    "approval topics",
                    f"{len(topics)} named, not checked: the notice function is unknown",
                    "pass --stack, or --notice-function (stack output ApprovalNoticeFunctionArn)",
                )
            ]
        permitted = self._sns_sources(function_arn)
        return [self._check_topic(t, function_arn, permitted) for t in topics]

    def _check_topic(
        self, topic: str, function_arn: str, permitted: set[str] | ClientError
    ) -> Finding:
        subject = f"topic {topic}"
        if not topic.rsplit(":", 1)[-1].startswith("Automation"):
            return Finding(
                False,
                subject,
                "its name does not start with Automation, so SSM's automation role may not "
                "publish approval notices to it",
                "use a topic named Automation… (the stack's topics are)",
            )
        try:
            subscriptions = [
                s
                for page in self._sns.get_paginator("list_subscriptions_by_topic").paginate(
                    TopicArn=topic
                )
                for s in page["Subscriptions"]
            ]
        except ClientError as exc:
            code = error_code(exc)
            detail = "does not exist" if code == "NotFound" else f"cannot be read ({code})"
            return Finding(False, subject, detail, "deploy infra/template.yaml or fix the ARN")
        subscribed = any(
            s.get("Protocol") == "lambda" and _same_function(s.get("Endpoint", ""), function_arn)
            for s in subscriptions
        )
        if not subscribed:
            return Finding(
                False,
                subject,
                "is not subscribed to the notice function, so its approvals get no card",
                f"aws sns subscribe --topic-arn {topic} --protocol lambda "
                f"--notification-endpoint {function_arn}",
            )
        if isinstance(permitted, ClientError):
            return Finding(
                False,
                subject,
                f"subscribed; the function's policy cannot be read ({error_code(permitted)})",
                "run doctor with lambda:GetPolicy on the notice function",
            )
        if topic not in permitted and "*" not in permitted:
            return Finding(
                False,
                subject,
                "subscribed, but SNS may not invoke the notice function",
                f"aws lambda add-permission --function-name {function_arn} "
                f"--statement-id sns-{topic.rsplit(':', 1)[-1]} --action lambda:InvokeFunction "
                f"--principal sns.amazonaws.com --source-arn {topic}",
            )
        return Finding(True, subject, "subscribed to the notice function")

    def _sns_sources(self, function_arn: str) -> set[str] | ClientError:
        """Topic ARNs the function's resource policy lets SNS invoke it for ("*": any)."""
        try:
            policy = document(self._lambda.get_policy(FunctionName=function_arn)["Policy"])
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return set()  # no resource policy at all: nothing may invoke it
            return exc
        sources: set[str] = set()
        for statement in statements(policy):
            principal = statement.get("Principal", {})
            service = principal.get("Service") if isinstance(principal, dict) else principal
            actions = listed(statement.get("Action"))
            if statement.get("Effect") != "Allow" or "sns.amazonaws.com" not in listed(service):
                continue
            if not any(matches(pattern, "lambda:InvokeFunction") for pattern in actions):
                continue
            condition = statement.get("Condition", {})
            arns = [
                arn
                for test in ("ArnLike", "ArnEquals", "StringEquals", "StringLike")
                for arn in listed(condition.get(test, {}).get("AWS:SourceArn"))
            ]
            sources.update(arns or ["*"])
        return sources


_QUALIFIER = re.compile(r"^(arn:[^:]+:lambda:[^:]+:\d{12}:function:[^:]+)(:.+)?$")


def _same_function(endpoint: str, function_arn: str) -> bool:
    def unqualified(arn: str) -> str:
        match = _QUALIFIER.match(arn)
        return match.group(1) if match else arn

    return unqualified(endpoint) == unqualified(function_arn)
