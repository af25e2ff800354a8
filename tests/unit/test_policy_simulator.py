"""The sandbox's IAM policy simulator: what IAM would answer, never an allow it would not give."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import sandbox.aws
from sandbox.aws.policy_eval import Policy, evaluate

ROLE = "arn:aws:iam::123456789012:role/approver"


def policy(*statements: dict[str, Any], name: str = "p") -> Policy:
    return Policy.parse(name, "role", {"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str = "sts:AssumeRole", resource: str = ROLE, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def decision(*policies: Policy, action: str = "sts:AssumeRole", **context: str) -> str:
    values = {k.replace("__", ":"): [v] for k, v in context.items()}
    return str(evaluate(policies, action, ROLE, values).decision)


def test_an_allow_allows_and_nothing_is_an_implicit_deny() -> None:
    assert decision(policy(allow())) == "allowed"
    assert decision(policy(allow(resource="arn:aws:iam::123456789012:role/other"))) == (
        "implicitDeny"
    )
    assert decision() == "implicitDeny"


def test_actions_ignore_case_and_take_wildcards_resources_take_them_per_arn_part() -> None:
    assert decision(policy(allow("STS:assume*", "arn:aws:iam::*:role/app?over"))) == "allowed"
    # A * stays inside its part of the ARN: it cannot stand for the account and the service.
    assert decision(policy(allow(resource="arn:aws:*:role/approver"))) == "implicitDeny"


def test_an_explicit_deny_wins_over_any_allow() -> None:
    deny = {"Effect": "Deny", "Action": "sts:*", "Resource": "*"}

    found = evaluate([policy(allow()), policy(deny, name="guard")], "sts:AssumeRole", ROLE, {})

    assert found.decision == "explicitDeny"
    assert [p.policy_id for p in found.matched] == ["guard"]  # what decided: the deny


def test_a_deny_whose_condition_fails_does_not_apply() -> None:
    deny = {
        "Effect": "Deny",
        "Action": "sts:*",
        "Resource": "*",
        "Condition": {"StringNotLike": {"sts:SourceIdentity": "U*"}},
    }

    assert decision(policy(allow(), deny), sts__SourceIdentity="U0ALICE") == "allowed"
    assert decision(policy(allow(), deny), sts__SourceIdentity="alice") == "explicitDeny"


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        (
            {"StringEquals": {"sts:SourceIdentity": "U0ALICE"}},
            {"sts:SourceIdentity": "U0ALICE"},
            True,
        ),
        (
            {"StringEquals": {"sts:SourceIdentity": "U0ALICE"}},
            {"sts:SourceIdentity": "U0BOB"},
            False,
        ),
        ({"StringLike": {"sts:SourceIdentity": ["U*", "W*"]}}, {"sts:SourceIdentity": "W0X"}, True),
        ({"StringLike": {"sts:SourceIdentity": "U*"}}, {}, False),  # absent key: not satisfied
        ({"StringNotEquals": {"sts:SourceIdentity": "U0BOB"}}, {}, True),  # negated: holds
        (
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/bot"}},
            {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/bot"},
            True,
        ),
        (
            {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/bot"}},
            {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/other"},
            False,
        ),
        ({"Null": {"sts:SourceIdentity": "false"}}, {"sts:SourceIdentity": "U0ALICE"}, True),
        ({"Null": {"sts:SourceIdentity": "false"}}, {}, False),
        ({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, {}, False),
        (
            {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            {"aws:MultiFactorAuthPresent": "true"},
            True,
        ),
        ({"StringEqualsIfExists": {"aws:RequestedRegion": "eu-west-1"}}, {}, True),
        (
            {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
            {"aws:MultiFactorAuthAge": "60"},
            True,
        ),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "192.168.1.1"}, False),
        # An operator the simulator does not know denies; it never allows.
        (
            {"StringSoundsLike": {"sts:SourceIdentity": "U0ALICE"}},
            {"sts:SourceIdentity": "U0ALICE"},
            False,
        ),
        (
            {"Sometimes:StringEquals": {"sts:SourceIdentity": "U0ALICE"}},
            {"sts:SourceIdentity": "U0ALICE"},
            False,
        ),
    ],
)
def test_conditions(condition: dict[str, Any], context: dict[str, str], expected: bool) -> None:
    values = {key: [value] for key, value in context.items()}

    found = evaluate([policy(allow(Condition=condition))], "sts:AssumeRole", ROLE, values)

    assert (found.decision == "allowed") is expected


def test_a_key_a_condition_needed_and_the_request_lacked_is_named() -> None:
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}

    found = evaluate([policy(allow(Condition=condition))], "sts:AssumeRole", ROLE, {})

    assert found.decision == "implicitDeny"
    assert found.missing == {"aws:PrincipalOrgID"}


def test_a_permissions_boundary_must_allow_too() -> None:
    boundary = policy({"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}, name="boundary")

    assert evaluate([policy(allow())], "sts:AssumeRole", ROLE, {}, boundary=boundary).decision == (
        "implicitDeny"
    )


# -- the API, as boto3 sees it -------------------------------------------------------------------


@pytest.fixture
def iam() -> Iterator[Any]:
    sandbox.aws.install()
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


def test_simulate_principal_policy_reads_the_roles_policies_and_its_boundary(iam: Any) -> None:
    iam.create_policy(
        PolicyName="boundary",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow("ssm:*", "*")]}),
    )
    bot = iam.create_role(
        RoleName="bot",
        AssumeRolePolicyDocument="{}",
        PermissionsBoundary="arn:aws:iam::123456789012:policy/boundary",
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="bot",
        PolicyName="assume",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [allow("sts:AssumeRole"), allow("ssm:*", "*")]}
        ),
    )

    answer = iam.simulate_principal_policy(
        PolicySourceArn=bot,
        ActionNames=["sts:AssumeRole", "ssm:SendAutomationSignal"],
        ResourceArns=[ROLE],
    )

    results = {r["EvalActionName"]: r for r in answer["EvaluationResults"]}
    # The boundary lets the role do nothing in STS, whatever its own policy says.
    assert results["sts:AssumeRole"]["EvalDecision"] == "implicitDeny"
    assert results["ssm:SendAutomationSignal"]["EvalDecision"] == "allowed"
    assert results["ssm:SendAutomationSignal"]["MatchedStatements"][0]["SourcePolicyId"] == "assume"


def test_simulate_custom_policy_passes_context_and_names_what_was_missing(iam: Any) -> None:
    document = json.dumps(
        {"Statement": [allow(Condition={"StringLike": {"sts:SourceIdentity": "U*"}})]}
    )

    def simulate(*context: dict[str, Any]) -> dict[str, Any]:
        answer = iam.simulate_custom_policy(
            PolicyInputList=[document],
            ActionNames=["sts:AssumeRole"],
            ResourceArns=[ROLE],
            ContextEntries=list(context),
        )
        return answer["EvaluationResults"][0]  # type: ignore[no-any-return]

    given = {"ContextKeyName": "sts:SourceIdentity", "ContextKeyValues": ["U0ALICE"]}
    assert simulate({**given, "ContextKeyType": "string"})["EvalDecision"] == "allowed"
    lacking = simulate()
    assert lacking["EvalDecision"] == "implicitDeny"
    assert lacking["MissingContextValues"] == ["sts:SourceIdentity"]


def test_a_resource_policy_needs_an_iam_user_as_caller_as_iam_documents(iam: Any) -> None:
    with pytest.raises(ClientError) as refused:
        iam.simulate_custom_policy(
            PolicyInputList=[json.dumps({"Statement": [allow()]})],
            ActionNames=["sts:AssumeRole"],
            ResourcePolicy=json.dumps(
                {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"}]}
            ),
            CallerArn="arn:aws:iam::123456789012:role/bot",
        )

    assert refused.value.response["Error"]["Code"] == "InvalidInput"


def test_an_unknown_principal_is_no_such_entity(iam: Any) -> None:
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.simulate_principal_policy(
            PolicySourceArn="arn:aws:iam::123456789012:role/nobody", ActionNames=["sts:AssumeRole"]
        )
