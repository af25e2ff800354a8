"""Doctor's approver-role checks, answered by IAM's policy simulator, not by a guess.

For each mapped person, three questions, each as STS and SSM will ask it when they click:
1. may the bot role `sts:AssumeRole` and `sts:SetSourceIdentity` on their role, as them?
   SimulatePrincipalPolicy on the bot role's own policies (and permissions boundary);
2. does the role's trust policy let the bot role do both, with their Slack id as SourceIdentity?
   SimulateCustomPolicy on the trust policy's statements that name the bot role or its account.
   IAM takes only an IAM user as the caller of a resource policy (CallerArn), and the bot is a
   role, so the trust policy cannot go in as ResourcePolicy; the statements that name the bot are
   given as its policies instead, so IAM still evaluates their actions and every condition
   (docs/decisions/0014-doctor-asks-iams-simulator.md);
3. may the role `ssm:SendAutomationSignal`? SimulatePrincipalPolicy on the role's policies.
Service control policies and session policies are outside what is simulated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bot.arns import account_root, partition_of
from bot.doctor.findings import Finding
from bot.doctor.policies import document, listed, statements
from bot.gateways.aws import error_code, error_message
from bot.models import Identity

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import ContextEntryTypeDef

ASSUME_ACTIONS = ("sts:AssumeRole", "sts:SetSourceIdentity")
SIGNAL_ACTION = "ssm:SendAutomationSignal"
# Any execution id: what is simulated is the role's right to signal executions of this account.
_SOME_EXECUTION = "00000000-0000-0000-0000-000000000000"
SIMULATED = (
    "asked IAM's policy simulator about the bot role's policies (SimulatePrincipalPolicy), the "
    "statements of each trust policy that name the bot role (SimulateCustomPolicy) and each "
    "role's policies (SimulatePrincipalPolicy); service control policies are not simulated"
)
_CANNOT_SIMULATE = (
    "run doctor with credentials that may iam:SimulatePrincipalPolicy, "
    "iam:SimulateCustomPolicy and iam:GetRole"
)


class RoleChecks:
    """Each mapped person's role: the bot may assume it as them, and it may send decisions."""

    def __init__(self, iam: IAMClient, region: str) -> None:
        self._iam = iam
        self._region = region

    def run(self, identities: Sequence[Identity], bot_role_arn: str | None) -> list[Finding]:
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
        checked = [self.check(i, bot_role_arn) for i in approvers]
        return [Finding(True, "approver roles", SIMULATED), *checked]

    def check(self, identity: Identity, bot_role_arn: str) -> Finding:
        role_arn = str(identity.role_arn)
        subject = f"{identity.slack_user_id} ({identity.display_name}) → {role_arn}"
        try:
            return self._check(identity, role_arn, bot_role_arn, subject)
        except ClientError as exc:
            return _could_not_check(subject, exc)

    def _check(self, identity: Identity, role_arn: str, bot_role_arn: str, subject: str) -> Finding:
        user = identity.slack_user_id
        context = _assume_context(bot_role_arn, user)
        try:
            bot_side = self._iam.simulate_principal_policy(
                PolicySourceArn=bot_role_arn,
                ActionNames=list(ASSUME_ACTIONS),
                ResourceArns=[role_arn],
                ContextEntries=context,
            )["EvaluationResults"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            return Finding(
                False,
                subject,
                f"the bot role {bot_role_arn} does not exist",
                "pass the stack's BotRoleArn output (--stack, or --bot-role-arn)",
            )
        refused = _refusals(bot_side)
        if refused:
            return Finding(
                False,
                subject,
                f"the bot role may not {' or '.join(refused)} on this role ({_why(bot_side)})",
                "add the role ARN to the stack parameter ApproverRoleArns (or map the person "
                "to a role the stack created: output ApproverRoleArns)",
            )
        try:
            role = self._iam.get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            return Finding(
                False,
                subject,
                "no such role",
                f"create the role, or re-map: signoff users map {user} "
                "--role <approver role ARN> --name <name>",
            )
        trust_fix = f"add this statement to the trust policy of {role_arn}: " + json.dumps(
            {"Effect": "Allow", "Principal": {"AWS": bot_role_arn}, "Action": list(ASSUME_ACTIONS)}
        )
        naming = _naming_statements(
            document(role.get("AssumeRolePolicyDocument", {})), bot_role_arn, role_arn
        )
        if not naming:
            return Finding(
                False,
                subject,
                "its trust policy names neither the bot role nor its account, so STS refuses "
                "to let the bot assume it",
                trust_fix,
            )
        trust_side = self._iam.simulate_custom_policy(
            PolicyInputList=[json.dumps({"Version": "2012-10-17", "Statement": naming})],
            ActionNames=list(ASSUME_ACTIONS),
            ResourceArns=[role_arn],
            ContextEntries=context,
        )["EvaluationResults"]
        refused = _refusals(trust_side)
        if refused:
            return Finding(
                False,
                subject,
                f"its trust policy does not let the bot role {' or '.join(refused)} "
                f"with SourceIdentity {user} ({_why(trust_side)})",
                trust_fix,
            )
        signal = self._iam.simulate_principal_policy(
            PolicySourceArn=role_arn,
            ActionNames=[SIGNAL_ACTION],
            ResourceArns=[self._execution_arn(role_arn)],
            ContextEntries=[_entry("aws:SourceIdentity", user)],
        )["EvaluationResults"]
        if _refusals(signal):
            return Finding(
                False,
                subject,
                f"the role may not send decisions ({SIGNAL_ACTION}: {_why(signal)})",
                f"allow {SIGNAL_ACTION} on arn:{partition_of(role_arn) or 'aws'}:ssm:"
                f"{self._region}:<account>:automation-execution/* in a policy of {role_arn}",
            )
        return Finding(True, subject, "the bot can act as this person and send decisions")

    def _execution_arn(self, role_arn: str) -> str:
        partition, account = role_arn.split(":")[1], role_arn.split(":")[4]
        return (
            f"arn:{partition}:ssm:{self._region}:{account}:automation-execution/{_SOME_EXECUTION}"
        )


def _assume_context(bot_role_arn: str, slack_user_id: str) -> list[ContextEntryTypeDef]:
    """What STS sees when the bot assumes a role as this person (bot/gateways/automation.py)."""
    return [
        _entry("sts:SourceIdentity", slack_user_id),
        _entry("sts:RoleSessionName", slack_user_id),
        _entry("aws:PrincipalArn", bot_role_arn),
        _entry("aws:PrincipalAccount", bot_role_arn.split(":")[4]),
    ]


def _entry(key: str, value: str) -> ContextEntryTypeDef:
    return {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}


def _naming_statements(
    trust: Mapping[str, Any], bot_role_arn: str, role_arn: str
) -> list[dict[str, Any]]:
    """The trust policy's statements that apply to the bot role, as identity-policy statements
    on `role_arn` (their Principal chose them; their actions and conditions are IAM's to judge)."""
    bot = {bot_role_arn, account_root(bot_role_arn), bot_role_arn.split(":")[4], "*"}
    chosen = []
    for statement in statements(trust):
        if "NotPrincipal" in statement:
            applies = not bot & set(map(str, _aws_principals(statement["NotPrincipal"])))
        else:
            applies = bool(bot & set(map(str, _aws_principals(statement.get("Principal")))))
        if not applies:
            continue
        kept = {k: v for k, v in statement.items() if k not in {"Principal", "NotPrincipal"}}
        chosen.append({**kept, "Resource": role_arn})
    return chosen


def _aws_principals(principal: Any) -> list[Any]:
    if principal == "*":
        return ["*"]
    return listed(principal.get("AWS")) if isinstance(principal, dict) else []


def _refusals(results: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(r["EvalActionName"]) for r in results if r.get("EvalDecision") != "allowed"]


def _why(results: Sequence[Mapping[str, Any]]) -> str:
    """IAM's reason for the first refusal, in words: which policy denied, or that none allowed,
    and any condition key the simulation lacked."""
    refused = next(r for r in results if r.get("EvalDecision") != "allowed")
    if refused.get("EvalDecision") == "explicitDeny":
        policies = sorted(
            {str(s.get("SourcePolicyId")) for s in refused.get("MatchedStatements", [])}
        )
        reason = "explicitly denied" + (f" by {', '.join(policies)}" if policies else "")
    else:
        reason = "no statement allows it"
    missing = list(refused.get("MissingContextValues") or [])
    if missing:
        reason += f"; its conditions test {', '.join(missing)}, which doctor cannot know"
    return f"IAM's simulation: {reason}"


def _could_not_check(subject: str, exc: ClientError) -> Finding:
    code = error_code(exc)
    action = f"iam:{exc.operation_name}"
    if code in {"AccessDenied", "AccessDeniedException"}:
        why = f"your credentials may not {action}"
    else:
        why = f"{action} failed ({code}: {error_message(exc)})"
    return Finding(False, subject, f"could not check: {why}", _CANNOT_SIMULATE)
