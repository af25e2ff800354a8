"""`signoff doctor`: check a deployed Signoff and say, for each problem, how to fix it."""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.error import URLError
from urllib.parse import unquote

import boto3
from botocore.exceptions import ClientError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import DEFAULT_SLACK_API_URL, Settings
from bot.errors import ServiceError
from bot.gateways.aws import error_code, error_message
from bot.gateways.dynamo import OPEN_INDEX, TableAt
from bot.gateways.flowstore import FlowStore
from bot.gateways.tables import ApprovalStore, IdentityStore
from bot.models import Identity
from bot.wiring import AWS_CONFIG, utc_now

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient

ASSUME_ACTIONS = ("sts:AssumeRole", "sts:SetSourceIdentity")
SIGNAL_ACTION = "ssm:SendAutomationSignal"
TABLE_LABELS = ("approvals", "audit", "identities", "idempotency")
# The stack outputs `signoff doctor --stack` reads (infra/template.yaml, Outputs).
_OUTPUT_TABLES = {
    "approvals": "ApprovalsTableName",
    "audit": "AuditTableName",
    "identities": "IdentitiesTableName",
    "idempotency": "IdempotencyTableName",
}
# The bot scopes Signoff's Slack calls need: infra/slack-manifest.yaml's (a test keeps them equal).
REQUIRED_BOT_SCOPES = ("channels:history", "chat:write", "commands", "groups:history", "im:write")
# auth.test for a bot token: Slack's answer and its HTTP headers (X-OAuth-Scopes names the scopes).
SlackAuthTest = Callable[[str], tuple[Mapping[str, Any], Mapping[str, str]]]
_FILL_COMMAND = (
    "aws secretsmanager put-secret-value --secret-id {arn} "
    '--secret-string \'{{"bot_token":"xoxb-…","signing_secret":"…"}}\''
)


@dataclass(frozen=True)
class Finding:
    """One check: what was looked at, what was found, and (when wrong) how to fix it."""

    ok: bool
    subject: str
    detail: str
    fix: str = ""

    def render(self) -> str:
        mark = "✓" if self.ok else "✗"
        text = f"{mark} {self.subject}: {self.detail}"
        return text if self.ok or not self.fix else f"{text}\n    fix: {self.fix}"


@dataclass(frozen=True)
class Target:
    """What to check: names and ARNs of one deployment (from stack outputs, settings or flags)."""

    tables: Mapping[str, str] = field(default_factory=dict)
    slack_secret_arn: str | None = None
    bot_role_arn: str | None = None
    notice_function_arn: str | None = None
    topic_arns: tuple[str, ...] = ()


def target_from_outputs(outputs: Mapping[str, str]) -> Target:
    """A Target from the stack's outputs (infra/template.yaml)."""
    topics = tuple(t for t in outputs.get("AutomationTopicArns", "").split(",") if t)
    return Target(
        tables={label: outputs[key] for label, key in _OUTPUT_TABLES.items() if key in outputs},
        slack_secret_arn=outputs.get("SlackSecretArn"),
        bot_role_arn=outputs.get("BotRoleArn"),
        notice_function_arn=outputs.get("ApprovalNoticeFunctionArn"),
        topic_arns=topics,
    )


def target_from_settings(settings: Settings) -> Target:
    """A Target from the same environment variables the functions read."""
    return Target(
        tables={
            "approvals": settings.approvals_table,
            "audit": settings.audit_table,
            "identities": settings.identities_table,
            "idempotency": settings.idempotency_table,
        },
        slack_secret_arn=settings.slack_secret_arn,
    )


class Doctor:
    """Pure checks over AWS clients passed in; each returns findings, none raises on AWS errors."""

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
        self._region = region
        self._slack_auth_test = slack_auth_test
        self._bot_token: str | None = None
        self._secrets = secrets
        self._dynamodb = dynamodb
        self._iam = iam
        self._sns = sns
        self._lambda = lambda_client

    def run(self, target: Target, identities: Callable[[], Sequence[Identity]]) -> list[Finding]:
        """Every check for `target`; `identities` is read only if the identities table exists."""
        findings = self.check_slack_secret(target.slack_secret_arn)
        if self._bot_token and self._slack_auth_test is not None:
            findings += self.check_slack_app(self._bot_token)
        tables = self.check_tables(target.tables)
        findings += tables
        identities_ok = any(f.ok and f.subject.startswith("identities table") for f in tables)
        if identities_ok:
            findings += self.check_approver_roles(identities(), target.bot_role_arn)
        findings += self.check_topics(target.topic_arns, target.notice_function_arn)
        return findings

    # -- the Slack secret -----------------------------------------------------------------------

    def check_slack_secret(self, arn: str | None) -> list[Finding]:
        subject = "Slack secret"
        if not arn:
            return [
                Finding(
                    False,
                    subject,
                    "no secret named",
                    "pass --stack, or set SLACK_SECRET_ARN (stack output SlackSecretArn)",
                )
            ]
        subject = f"Slack secret {arn}"
        try:
            raw = self._secrets.get_secret_value(SecretId=arn).get("SecretString", "")
        except ClientError as exc:
            return [self._secret_error(subject, arn, exc)]
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            return [Finding(False, subject, "is not a JSON object", _FILL_COMMAND.format(arn=arn))]
        missing = [k for k in ("bot_token", "signing_secret") if not value.get(k)]
        if missing:
            return [
                Finding(
                    False,
                    subject,
                    f"has no {' and no '.join(missing)}",
                    _FILL_COMMAND.format(arn=arn),
                )
            ]
        if not str(value["bot_token"]).startswith("xoxb-"):
            return [
                Finding(
                    False,
                    subject,
                    "bot_token is not a bot token (xoxb-…)",
                    "copy the Bot User OAuth Token from the Slack app's OAuth & Permissions page, "
                    + _FILL_COMMAND.format(arn=arn),
                )
            ]
        self._bot_token = str(value["bot_token"])
        return [Finding(True, subject, "filled, with bot_token and signing_secret")]

    # -- the Slack app --------------------------------------------------------------------------

    def check_slack_app(self, bot_token: str) -> list[Finding]:
        """The secret's bot token works (auth.test) and carries every scope Signoff uses."""
        assert self._slack_auth_test is not None
        subject = "Slack app"
        try:
            answer, headers = self._slack_auth_test(bot_token)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else "unknown"
            return [
                Finding(
                    False,
                    subject,
                    f"Slack refused the bot token ({error})",
                    "reinstall the app to the workspace and put its Bot User OAuth Token in the "
                    "secret (docs/deploy.md, Slack app set-up)",
                )
            ]
        except (URLError, OSError) as exc:
            return [
                Finding(
                    False,
                    subject,
                    f"could not reach Slack ({exc})",
                    "run doctor where Slack's API is reachable, or pass --skip-slack",
                )
            ]
        works = Finding(
            True, subject, f"the bot token works ({answer.get('user')} in {answer.get('team')})"
        )
        raw = next((v for k, v in headers.items() if k.lower() == "x-oauth-scopes"), "")
        granted = {scope.strip() for scope in str(raw).split(",") if scope.strip()}
        missing = [scope for scope in REQUIRED_BOT_SCOPES if scope not in granted]
        if not missing:
            return [works, Finding(True, "Slack app scopes", ", ".join(REQUIRED_BOT_SCOPES))]
        return [
            works,
            Finding(
                False,
                "Slack app scopes",
                f"missing {', '.join(missing)}",
                "add them under OAuth & Permissions → Bot Token Scopes (or update the app from "
                "infra/slack-manifest.yaml) and reinstall the app; without channels:history and "
                "groups:history a card whose post went unanswered cannot be looked for",
            ),
        ]

    @staticmethod
    def _secret_error(subject: str, arn: str, exc: ClientError) -> Finding:
        code = error_code(exc)
        if code == "ResourceNotFoundException" and "AWSCURRENT" in error_message(exc):
            # The template creates the secret empty on purpose; it has no version until filled.
            return Finding(
                False, subject, "exists but was never filled", _FILL_COMMAND.format(arn=arn)
            )
        if code == "ResourceNotFoundException":
            return Finding(
                False,
                subject,
                "does not exist",
                "deploy infra/template.yaml, or check SLACK_SECRET_ARN (stack output "
                "SlackSecretArn)",
            )
        if code in {"AccessDeniedException", "AccessDenied"}:
            return Finding(
                False,
                subject,
                "your credentials may not read it",
                "run doctor with credentials that have secretsmanager:GetSecretValue on it",
            )
        return Finding(False, subject, f"could not be read ({code})")

    # -- tables ---------------------------------------------------------------------------------

    def check_tables(self, tables: Mapping[str, str]) -> list[Finding]:
        findings = []
        for label in TABLE_LABELS:
            name = tables.get(label)
            subject = f"{label} table {name or ''}".rstrip()
            if not name:
                findings.append(
                    Finding(
                        False,
                        subject,
                        "no table named",
                        f"pass --stack, or set SIGNOFF_{label.upper()}_TABLE",
                    )
                )
                continue
            try:
                table = self._dynamodb.describe_table(TableName=name)["Table"]
            except ClientError as exc:
                code = error_code(exc)
                detail = "does not exist" if code == "ResourceNotFoundException" else code
                findings.append(
                    Finding(
                        False,
                        subject,
                        detail,
                        f"deploy infra/template.yaml, or point SIGNOFF_{label.upper()}_TABLE at "
                        f"the stack output {_OUTPUT_TABLES[label]}",
                    )
                )
                continue
            status = table["TableStatus"]
            ok = status in {"ACTIVE", "UPDATING"}
            findings.append(Finding(ok, subject, status.lower(), "" if ok else "wait, then rerun"))
            if label == "approvals":
                index = _open_index(subject, table)
                findings.append(self._unindexed(name, index) if index.ok else index)
        return findings

    def _unindexed(self, table: str, index: Finding) -> Finding:
        """The index's finding, wrong while cards or levels written before it still wait
        outside it (a stack upgraded from before the index, not yet backfilled)."""
        at = TableAt(self._dynamodb, table)
        try:
            outside = (
                ApprovalStore(at, utc_now).cards_outside_index()
                + FlowStore(at, utc_now).levels_outside_index()
            )
        except ServiceError as failed:
            return Finding(
                False,
                index.subject,
                f"could not look for cards written before it: {failed}",
                f"run doctor with credentials that may dynamodb:Scan {table}",
            )
        if not outside:
            return index
        return Finding(
            False,
            index.subject,
            f"{outside} waiting cards or flow levels were written before it and are not in it",
            "signoff backfill-open-index",
        )

    # -- approver roles -------------------------------------------------------------------------

    def check_approver_roles(
        self, identities: Sequence[Identity], bot_role_arn: str | None
    ) -> list[Finding]:
        """Each mapped person's role: the bot may assume it as them, and it may send decisions."""
        approvers = [i for i in identities if i.role_arn]
        if not approvers:
            return [
                Finding(
                    False,
                    "approvers",
                    "nobody is mapped to an approver role, so no one can decide in Slack",
                    "signoff users map <slack-user-id> --role <approver role ARN> --name <name> "
                    "(stack output ApproverRoleArns)",
                )
            ]
        if not bot_role_arn:
            return [
                Finding(
                    False,
                    "approver roles",
                    f"{len(approvers)} mapped, not checked: the bot role is unknown",
                    "pass --stack, or --bot-role-arn (stack output BotRoleArn)",
                )
            ]
        bot_documents = self._identity_policies(bot_role_arn)
        return [self._check_approver(i, bot_role_arn, bot_documents) for i in approvers]

    def _check_approver(
        self,
        identity: Identity,
        bot_role_arn: str,
        bot_documents: list[dict[str, Any]] | ClientError,
    ) -> Finding:
        role_arn = str(identity.role_arn)
        subject = f"{identity.slack_user_id} ({identity.display_name}) → {role_arn}"
        if isinstance(bot_documents, ClientError):
            return Finding(
                False,
                subject,
                f"cannot read the bot role's policies ({error_code(bot_documents)})",
                "run doctor with iam:GetRole/ListRolePolicies/GetRolePolicy/"
                "ListAttachedRolePolicies/GetPolicyVersion on the bot role",
            )
        context = {"sts:SourceIdentity": identity.slack_user_id}
        missing_bot = [a for a in ASSUME_ACTIONS if not allows(bot_documents, a, role_arn, context)]
        if missing_bot:
            return Finding(
                False,
                subject,
                f"the bot role may not {' or '.join(missing_bot)} on this role",
                "add the role ARN to the stack parameter ApproverRoleArns (or map the person "
                "to a role the stack created: output ApproverRoleArns)",
            )
        try:
            role = self._iam.get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
        except ClientError as exc:
            code = error_code(exc)
            detail = "no such role" if code == "NoSuchEntity" else f"cannot read it ({code})"
            return Finding(
                False,
                subject,
                detail,
                f"create the role, or re-map: signoff users map {identity.slack_user_id} "
                "--role <approver role ARN> --name <name>",
            )
        trust = _document(role.get("AssumeRolePolicyDocument", {}))
        missing_trust = [a for a in ASSUME_ACTIONS if not trusts(trust, bot_role_arn, a, context)]
        if missing_trust:
            statement = {
                "Effect": "Allow",
                "Principal": {"AWS": bot_role_arn},
                "Action": list(ASSUME_ACTIONS),
            }
            return Finding(
                False,
                subject,
                f"its trust policy does not let the bot role {' or '.join(missing_trust)} "
                f"with SourceIdentity {identity.slack_user_id}",
                f"add this statement to the trust policy of {role_arn}: " + json.dumps(statement),
            )
        role_documents = self._identity_policies(role_arn)
        execution = f"{_arn_prefix(role_arn, 'ssm', self._region)}:automation-execution/x"
        if isinstance(role_documents, ClientError) or not allows(
            role_documents, SIGNAL_ACTION, execution, {}
        ):
            return Finding(
                False,
                subject,
                "the role may not send decisions (ssm:SendAutomationSignal)",
                f"allow {SIGNAL_ACTION} on arn:aws:ssm:<region>:<account>:automation-execution/* "
                f"in a policy of {role_arn}",
            )
        return Finding(True, subject, "the bot can act as this person and send decisions")

    def _identity_policies(self, role_arn: str) -> list[dict[str, Any]] | ClientError:
        """Inline and attached policy documents of a role (an error when they cannot be read)."""
        name = role_arn.rsplit("/", 1)[-1]
        documents: list[dict[str, Any]] = []
        try:
            for page in self._iam.get_paginator("list_role_policies").paginate(RoleName=name):
                for policy_name in page["PolicyNames"]:
                    inline = self._iam.get_role_policy(RoleName=name, PolicyName=policy_name)
                    documents.append(_document(inline["PolicyDocument"]))
            attached = self._iam.get_paginator("list_attached_role_policies")
            for listing in attached.paginate(RoleName=name):
                for policy in listing["AttachedPolicies"]:
                    arn = policy["PolicyArn"]
                    version = self._iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                    body = self._iam.get_policy_version(PolicyArn=arn, VersionId=version)
                    documents.append(_document(body["PolicyVersion"]["Document"]))
        except ClientError as exc:
            return exc
        return documents

    # -- topics ---------------------------------------------------------------------------------

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
            policy = _document(self._lambda.get_policy(FunctionName=function_arn)["Policy"])
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return set()  # no resource policy at all: nothing may invoke it
            return exc
        sources: set[str] = set()
        for statement in _statements(policy):
            principal = statement.get("Principal", {})
            service = principal.get("Service") if isinstance(principal, dict) else principal
            actions = _list(statement.get("Action"))
            if statement.get("Effect") != "Allow" or "sns.amazonaws.com" not in _list(service):
                continue
            if not any(_match(pattern, "lambda:InvokeFunction") for pattern in actions):
                continue
            condition = statement.get("Condition", {})
            arns = [
                arn
                for test in ("ArnLike", "ArnEquals", "StringEquals", "StringLike")
                for arn in _list(condition.get(test, {}).get("AWS:SourceArn"))
            ]
            sources.update(arns or ["*"])
        return sources


# -- reading policies -----------------------------------------------------------------------------


def allows(
    documents: Iterable[Mapping[str, Any]],
    action: str,
    resource: str,
    context: Mapping[str, str],
) -> bool:
    """Whether identity policies allow `action` on `resource` (an explicit Deny wins).

    Conditions on keys in `context` are evaluated (StringEquals/StringLike); others are assumed
    met. Permission boundaries and SCPs are not seen here.
    """
    allowed = False
    for statement in (s for d in documents for s in _statements(d)):
        if not _covers(statement, "Action", "NotAction", action):
            continue
        if not _covers(statement, "Resource", "NotResource", resource):
            continue
        if not _conditions_hold(statement.get("Condition", {}), context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def trusts(
    document: Mapping[str, Any], principal_arn: str, action: str, context: Mapping[str, str]
) -> bool:
    """Whether a role's trust policy lets `principal_arn` perform `action` (an sts: action)."""
    account = principal_arn.split(":")[4] if principal_arn.count(":") >= 5 else ""
    accepted = {principal_arn, "*", f"arn:aws:iam::{account}:root", account}
    allowed = False
    for statement in _statements(document):
        principal = statement.get("Principal", {})
        named = _list(principal.get("AWS")) if isinstance(principal, dict) else _list(principal)
        if not accepted & set(named):
            continue
        if not _covers(statement, "Action", "NotAction", action):
            continue
        if not _conditions_hold(statement.get("Condition", {}), context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def _statements(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    yield from _list(statements)


def _covers(statement: Mapping[str, Any], key: str, negated: str, value: str) -> bool:
    if key in statement:
        return any(_match(pattern, value) for pattern in _list(statement[key]))
    if negated in statement:
        return not any(_match(pattern, value) for pattern in _list(statement[negated]))
    return key == "Resource"  # trust policies have no Resource


def _conditions_hold(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for test, checks in condition.items():
        for key, expected in checks.items():
            if key not in context:
                continue  # not something doctor can know: assume it holds
            value = context[key]
            patterns = [str(e) for e in _list(expected)]
            if test == "StringEquals" and value not in patterns:
                return False
            if test == "StringLike" and not any(_match(p, value) for p in patterns):
                return False
    return True


def _match(pattern: str, value: str) -> bool:
    # IAM wildcards: * and ?; actions compare case-insensitively.
    return fnmatchcase(value.lower(), str(pattern).lower())


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _document(raw: Any) -> dict[str, Any]:
    # boto3 decodes IAM's URL-encoded JSON for some calls and not others; Lambda's is a string.
    if isinstance(raw, str):
        text = unquote(raw) if raw.startswith("%7B") else raw
        parsed: dict[str, Any] = json.loads(text)
        return parsed
    return dict(raw)


def _arn_prefix(arn: str, service: str, region: str) -> str:
    parts = arn.split(":")
    partition, account = parts[1], parts[4]
    return f"arn:{partition}:{service}:{region}:{account}"


_QUALIFIER = re.compile(r"^(arn:[^:]+:lambda:[^:]+:\d{12}:function:[^:]+)(:.+)?$")


def _same_function(endpoint: str, function_arn: str) -> bool:
    def unqualified(arn: str) -> str:
        match = _QUALIFIER.match(arn)
        return match.group(1) if match else arn

    return unqualified(endpoint) == unqualified(function_arn)


# -- the command ----------------------------------------------------------------------------------


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
    session = session or boto3.Session(region_name=args.region or os.environ.get("AWS_REGION"))
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


def slack_auth_test(
    bot_token: str, api_url: str | None = None
) -> tuple[Mapping[str, Any], Mapping[str, str]]:
    """auth.test at `api_url`, else SLACK_API_URL (Slack itself by default): answer, headers."""
    api_url = api_url or os.environ.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    answer = WebClient(token=bot_token, base_url=api_url, timeout=10).auth_test()
    return dict(answer.data) if isinstance(answer.data, dict) else {}, dict(answer.headers)


def stack_outputs(cloudformation: CloudFormationClient, stack: str) -> dict[str, str]:
    """A stack's outputs by key."""
    [described] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _open_index(subject: str, table: Mapping[str, Any]) -> Finding:
    """The approvals table's Open index, which the reconciler queries for what still waits."""
    indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    index = indexes.get(OPEN_INDEX)
    where = f"{subject} index {OPEN_INDEX}"
    if index is None:
        return Finding(
            False,
            where,
            "missing: the reconciler cannot find open cards and flow levels",
            "deploy the current infra/template.yaml",
        )
    status = str(index.get("IndexStatus", "ACTIVE"))
    ok = status == "ACTIVE"
    return Finding(ok, where, status.lower(), "" if ok else "wait until DynamoDB has built it")
