"""Least privilege, checked: no write on "*" beyond a reasoned allowlist, every statement explained.

Who trusts whom is asserted too: approver roles trust the bot role only, the automation role is
SSM's only, and iam:PassRole names one role for one service.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import pytest

from sandbox.template import TEMPLATE_PATH, resolver
from tests.support.iam import FUNCTION_ROLES, grants, role_actions

# Actions that may be granted on "*" and why. Everything else must name its resources.
ALLOWED_ON_STAR = {
    "ssm:DescribeAutomationExecutions": "read-only; the action has no resource type",
    "secretsmanager:ListSecrets": "list-only; the action has no resource type",
    "states:SendTaskSuccess": "task tokens are not IAM resources (no resource type)",
    "states:SendTaskFailure": "task tokens are not IAM resources (no resource type)",
    "xray:PutTraceSegments": "X-Ray trace APIs have no resource type",
    "xray:PutTelemetryRecords": "X-Ray trace APIs have no resource type",
    "xray:GetSamplingRules": "X-Ray trace APIs have no resource type",
    "xray:GetSamplingTargets": "X-Ray trace APIs have no resource type",
    "logs:CreateLogDelivery": "vended log delivery APIs have no resource type",
    "logs:GetLogDelivery": "vended log delivery APIs have no resource type",
    "logs:UpdateLogDelivery": "vended log delivery APIs have no resource type",
    "logs:DeleteLogDelivery": "vended log delivery APIs have no resource type",
    "logs:ListLogDeliveries": "vended log delivery APIs have no resource type",
    "logs:PutResourcePolicy": "vended log delivery APIs have no resource type",
    "logs:DescribeResourcePolicies": "vended log delivery APIs have no resource type",
    "logs:DescribeLogGroups": "vended log delivery APIs have no resource type",
}

PARAMETER_SETS = [
    {},
    {"LevelCount": 5, "EnableTracing": "true"},
    {"LevelCount": 1},
    {"ApproverRoleArns": "arn:aws:iam::123456789012:role/Mine", "KeyApprovers": "alice"},
]

APPROVER_ROLES = [f"Level{n}ApproverRole" for n in range(1, 6)] + ["KeyApproverRole"]


@pytest.mark.parametrize("parameters", PARAMETER_SETS, ids=lambda p: ",".join(p) or "defaults")
def test_no_action_is_granted_on_star_unless_aws_allows_nothing_narrower(
    template: dict[str, Any], parameters: dict[str, Any]
) -> None:
    offenders = [
        (g.owner, g.statement.get("Sid"), action)
        for g in grants(template, resolver(template, parameters))
        if g.kind == "permissions" and "*" in g.resources
        for action in g.actions
        if action not in ALLOWED_ON_STAR
    ]

    assert offenders == []


def test_no_statement_uses_wildcard_actions_or_negations(template: dict[str, Any]) -> None:
    for grant in grants(template, resolver(template, {"LevelCount": 5})):
        assert grant.statement["Effect"] == "Allow", grant
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(grant.statement), grant
        for action in grant.actions:
            assert "*" not in action, (grant.owner, action)


def test_every_statement_has_a_sid_and_a_comment_saying_why(template: dict[str, Any]) -> None:
    statements = [g.statement for g in grants(template)] + [
        statement
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SecretsManager::ResourcePolicy"
        for statement in r["Properties"]["ResourcePolicy"]["Statement"]
    ]
    lines = TEMPLATE_PATH.read_text(encoding="utf-8").splitlines()
    sid_lines = [i for i, line in enumerate(lines) if re.match(r"^\s*- Sid: ", line)]

    assert all(next(iter(statement)) == "Sid" for statement in statements)
    assert len(sid_lines) == len(statements)
    unexplained = [lines[i].strip() for i in sid_lines if not lines[i - 1].strip().startswith("#")]
    assert unexplained == []


def test_approver_roles_trust_only_the_bot_role_with_a_slack_source_identity(
    template: dict[str, Any],
) -> None:
    resolve = resolver(template, {"LevelCount": 5})
    roles = {g.owner: g for g in grants(template, resolve) if g.owner in APPROVER_ROLES}

    assert set(roles) == set(APPROVER_ROLES)
    for grant in grants(template, resolve):
        if grant.owner not in APPROVER_ROLES:
            continue
        if grant.kind == "trust":
            assert grant.statement["Principal"] == {"AWS": "SlackEventsRole.Arn"}
            assert sorted(grant.actions) == ["sts:AssumeRole", "sts:SetSourceIdentity"]
            assert grant.statement["Condition"] == {
                "StringLike": {"sts:SourceIdentity": ["U*", "W*"]}
            }
        else:
            assert grant.actions == ["ssm:SendAutomationSignal"]
            assert grant.resources == ["arn:aws:ssm:us-east-1:123456789012:automation-execution/*"]


@pytest.mark.parametrize(
    ("parameters", "assumable"),
    [
        ({"LevelCount": 1}, ["Level1ApproverRole.Arn", "KeyApproverRole.Arn"]),
        (
            {"LevelCount": 3},
            [
                "Level1ApproverRole.Arn",
                "Level2ApproverRole.Arn",
                "Level3ApproverRole.Arn",
                "KeyApproverRole.Arn",
            ],
        ),
        (
            {"ApproverRoleArns": "arn:aws:iam::1:role/A,arn:aws:iam::1:role/B"},
            ["arn:aws:iam::1:role/A", "arn:aws:iam::1:role/B"],
        ),
    ],
)
def test_the_bot_role_may_assume_the_approver_roles_and_nothing_else(
    template: dict[str, Any], parameters: dict[str, Any], assumable: list[str]
) -> None:
    resolve = resolver(template, parameters)
    assuming = [g for g in grants(template, resolve) if "sts:AssumeRole" in g.actions]
    bot = [g for g in assuming if g.kind == "permissions"]

    assert [(g.owner, g.resources) for g in bot] == [("SlackEventsAssumeApprovers", assumable)]
    assert resolve.resolve(template["Resources"]["SlackEventsAssumeApprovers"]["Properties"])[
        "Roles"
    ] == ["SlackEventsRole"]
    created = [r for r in APPROVER_ROLES if resolve.resource_exists(r)]
    assert (created == []) == ("ApproverRoleArns" in parameters)


def test_function_roles_are_for_lambda_and_state_machine_roles_for_step_functions(
    template: dict[str, Any],
) -> None:
    for grant in grants(template, resolver(template)):
        if grant.kind != "trust" or grant.owner in APPROVER_ROLES:
            continue
        principal = grant.statement["Principal"]
        if grant.owner in FUNCTION_ROLES:
            assert principal == {"Service": "lambda.amazonaws.com"}, grant.owner
        elif grant.owner == "AutomationRole":
            assert principal == {"Service": "ssm.amazonaws.com"}
            assert grant.statement["Condition"]["StringEquals"] == {
                "aws:SourceAccount": "123456789012"
            }
        else:
            assert principal == {"Service": "states.amazonaws.com"}, grant.owner


def test_the_automation_role_publishes_notices_invokes_the_issuer_and_nothing_else(
    template: dict[str, Any],
) -> None:
    resolve = resolver(template, {"LevelCount": 2})
    allowed = {
        action: g.resources
        for g in grants(template, resolve)
        if g.owner == "AutomationRole" and g.kind == "permissions"
        for action in g.actions
    }

    # The issuer by name (a !GetAtt would close a dependency cycle): the name it is deployed as.
    issuer = resolve.resolve(template["Resources"]["IssueAccessKeyFunction"]["Properties"])
    assert allowed == {
        "sns:Publish": ["Level1Topic", "Level2Topic", "AccessKeyTopic"],
        "lambda:InvokeFunction": [
            f"arn:aws:lambda:us-east-1:123456789012:function:{issuer['FunctionName']}"
        ],
    }


def test_pass_role_passes_only_the_automation_role_only_to_ssm(template: dict[str, Any]) -> None:
    passing = [g for g in grants(template, resolver(template)) if "iam:PassRole" in g.actions]

    assert {g.owner for g in passing} == {"SlackEventsRole", "StartApprovalRole"}
    for grant in passing:
        assert grant.actions == ["iam:PassRole"]
        assert grant.resources == ["AutomationRole.Arn"]
        assert grant.statement["Condition"] == {
            "StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}
        }


def test_the_key_issuer_touches_only_users_under_the_path_and_secrets_under_the_prefix(
    template: dict[str, Any],
) -> None:
    resolve = resolver(template, {"KeyUserPath": "/contractors/", "SecretPrefix": "keys/"})
    issuer = [g for g in grants(template, resolve) if g.owner == "IssueAccessKeyRole"]
    by_service: dict[str, set[str]] = {}
    for grant in issuer:
        if grant.kind == "permissions":
            for action in grant.actions:
                by_service.setdefault(action.split(":")[0], set()).update(grant.resources)

    assert by_service["iam"] == {"arn:aws:iam::123456789012:user/contractors/*"}
    assert by_service["secretsmanager"] == {
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:keys/*",
        "*",  # ListSecrets only (see ALLOWED_ON_STAR)
    }
    assert "ssm" in by_service and "sts" not in by_service and "states" not in by_service
    assert not any("secretsmanager:GetSecretValue" in g.actions for g in issuer)


def test_starting_runbooks_is_scoped_to_signoffs_documents(template: dict[str, Any]) -> None:
    resolve = resolver(template, {"ApprovalDocumentName": "Ap", "AccessKeyDocumentName": "Key"})
    starts = {
        g.owner: g.resources
        for g in grants(template, resolve)
        if "ssm:StartAutomationExecution" in g.actions
    }
    definition = "arn:aws:ssm:us-east-1:123456789012:automation-definition/{}:*"

    assert starts == {
        "SlackEventsRole": [definition.format("Key")],
        "StartApprovalRole": [definition.format("Ap")],
    }


# Operations the code calls (infra/aws_models.py finds them) whose IAM action is named otherwise.
IAM_ACTION_OF = {"lambda:Invoke": "lambda:InvokeFunction"}
# Operations the code calls that no function role needs, and why.
NOT_FOR_FUNCTION_ROLES = {
    "ssm:SendAutomationSignal": "sent as the approver, under the approver role assumed for it",
    # `signoff doctor`, under the operator's own credentials.
    "dynamodb:DescribeTable": "signoff doctor",
    "iam:GetPolicy": "signoff doctor",
    "iam:GetRole": "signoff doctor",
    "iam:SimulateCustomPolicy": "signoff doctor",
    "iam:SimulatePrincipalPolicy": "signoff doctor",
    "lambda:GetPolicy": "signoff doctor",
    # The source scan matches a method name across services: only Secrets Manager's is called.
    "dynamodb:PutResourcePolicy": "not called (secretsmanager's put_resource_policy is)",
    "lambda:PutResourcePolicy": "not called (secretsmanager's put_resource_policy is)",
    "ssm:PutResourcePolicy": "not called (secretsmanager's put_resource_policy is)",
}


def test_every_aws_call_the_functions_make_is_granted_to_a_function_role(
    template: dict[str, Any], models: ModuleType
) -> None:
    """A call added to the code without its IAM action fails here, not as AccessDenied on AWS
    (moto does not enforce IAM, so nothing else in the suite would notice)."""
    prefixes = {"stepfunctions": "states"}
    operations = models.called_operations()
    called = {
        IAM_ACTION_OF.get(action, action)
        for service, names in operations.items()
        for action in (f"{prefixes.get(service, service)}:{name}" for name in names)
    }
    resolve = resolver(template, {"LevelCount": 5})
    granted = set().union(*(role_actions(template, resolve, role) for role in FUNCTION_ROLES))

    assert called - granted == set(NOT_FOR_FUNCTION_ROLES)


# --- The Slack secret's resource policy ------------------------------------------------------

# Whoever reads the signing secret can sign requests as Slack, i.e. click as any mapped approver.
SECRET_READERS = {
    "SlackEventsRole.Arn",
    "ApprovalNoticeRole.Arn",
    "AutomationResultRole.Arn",
    "ReconcileRole.Arn",
    "StartApprovalRole.Arn",
}


def _secret_policy(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    resolve = resolver(template, parameters)
    [policy] = [
        resolve.resolve(r["Properties"])
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SecretsManager::ResourcePolicy"
    ]
    assert policy["SecretId"] == "SlackSecret"
    return dict(policy)


def _denies(document: dict[str, Any], principal_arn: str, action: str) -> bool:
    """Whether an explicit Deny of the resource policy applies to this principal and action.

    The policy may only use what AWS evaluates for every caller: Principal "*" and
    aws:PrincipalArn (the role's ARN for any of its sessions).
    """
    for statement in document["Statement"]:
        if statement["Effect"] != "Deny" or statement["Principal"] != "*":
            continue
        actions = statement["Action"]
        if action not in (actions if isinstance(actions, list) else [actions]):
            continue
        assert set(statement["Condition"]) == {"StringNotEquals"}
        [(key, allowed)] = statement["Condition"]["StringNotEquals"].items()
        assert key == "aws:PrincipalArn"
        if principal_arn not in (allowed if isinstance(allowed, list) else [allowed]):
            return True
    return False


@pytest.mark.parametrize("parameters", PARAMETER_SETS, ids=lambda p: ",".join(p) or "defaults")
def test_only_the_functions_that_use_it_may_read_the_slack_secret(
    template: dict[str, Any], parameters: dict[str, Any]
) -> None:
    policy = _secret_policy(template, parameters)
    document = policy["ResourcePolicy"]
    resolve = resolver(template, parameters)
    granted = {
        f"{g.owner}.Arn"
        for g in grants(template, resolve)
        if "secretsmanager:GetSecretValue" in g.actions and "SlackSecret" in g.resources
    }
    # The policy attaches to the role and to the roles using the managed policy alike.
    readers = {
        f"{role}.Arn"
        for role in FUNCTION_ROLES
        if "secretsmanager:GetSecretValue" in role_actions(template, resolve, role)
    }

    assert policy["BlockPublicPolicy"] is True
    assert readers == SECRET_READERS and granted <= {"BotCommonPolicy.Arn"}
    for reader in SECRET_READERS:
        assert not _denies(document, reader, "secretsmanager:GetSecretValue"), reader
    for outsider in [
        "arn:aws:iam::123456789012:user/mallory",
        "arn:aws:iam::123456789012:role/ReadOnlyEverything",
        "IssueAccessKeyRole.Arn",  # a Signoff role that has no use for it
        "Level1ApproverRole.Arn",
    ]:
        assert _denies(document, outsider, "secretsmanager:GetSecretValue"), outsider


def test_the_slack_secret_policy_leaves_it_manageable_and_admits_the_admin_role(
    template: dict[str, Any],
) -> None:
    admin = "arn:aws:iam::123456789012:role/SignoffAdmin"
    without = _secret_policy(template, {})["ResourcePolicy"]
    document = _secret_policy(template, {"SlackSecretAdminRoleArn": admin})["ResourcePolicy"]

    assert _denies(without, admin, "secretsmanager:GetSecretValue")
    assert not _denies(document, admin, "secretsmanager:GetSecretValue")
    # Only reading is denied: CloudFormation (as the deployer) can still update, re-attach a
    # policy to and delete the secret, and the operator can fill it.
    for action in [
        "secretsmanager:PutSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:PutResourcePolicy",
        "secretsmanager:DeleteResourcePolicy",
        "secretsmanager:UpdateSecret",
        "secretsmanager:DeleteSecret",
    ]:
        assert not _denies(document, "arn:aws:iam::123456789012:user/deployer", action), action


# --- KeyUserPath ---------------------------------------------------------------------------


def test_by_default_the_key_issuer_may_touch_only_users_under_a_dedicated_path(
    template: dict[str, Any],
) -> None:
    """With "/" as the default, iam:CreateAccessKey covered every IAM user of the account."""
    default = template["Parameters"]["KeyUserPath"]["Default"]
    iam_resources = {
        resource
        for g in grants(template, resolver(template))
        if g.kind == "permissions"
        for action in g.actions
        if action.startswith("iam:") and action != "iam:PassRole"
        for resource in g.resources
    }

    assert default == "/signoff-keys/"
    assert iam_resources == {"arn:aws:iam::123456789012:user/signoff-keys/*"}
