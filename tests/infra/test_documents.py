"""The SSM runbooks as deployed: the approval level keeps the seed's parameters, and the
access-key runbook approves before it issues, with a payload that stays JSON whatever is typed."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.template import (
    function_environment,
    load_template,
    resolver,
    ssm_document_content,
)

SEED_APPROVAL_PARAMETERS = {
    "AutomationAssumeRole",
    "Description",
    "Message",
    "NotificationArn",
    "Approvers",
    "MinRequiredApprovals",
    "SfnToken",  # accepted for the seed's callers, never read by Signoff
    "SignoffHandle",  # what start_approval passes instead of the task token
}


def substitute(text: str, values: dict[str, str]) -> str:
    """What SSM does with {{ Name }} placeholders."""

    def value(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return re.sub(r"\{\{\s*([\w:]+)\s*\}\}", value, text)


def test_the_approval_level_keeps_the_seeds_parameters(template: dict[str, Any]) -> None:
    content = ssm_document_content(template, "ApprovalDocument")
    [step] = content["mainSteps"]

    assert set(content["parameters"]) == SEED_APPROVAL_PARAMETERS
    assert content["assumeRole"] == "{{ AutomationAssumeRole }}"
    assert content["parameters"]["AutomationAssumeRole"]["default"] == "AutomationRole.Arn"
    assert content["parameters"]["Approvers"]["type"] == "StringList"
    assert step["action"] == "aws:approve"
    assert step["onFailure"] == "Abort"
    assert set(step["inputs"]) == {
        "Message",
        "NotificationArn",
        "Approvers",
        "MinRequiredApprovals",
    }


def test_the_access_key_runbook_approves_then_issues(template: dict[str, Any]) -> None:
    content = ssm_document_content(template, "AccessKeyDocument")
    approve, issue = content["mainSteps"]

    # Whoever starts it says for whom, why and which recorded request; nothing about who
    # approves, how many, where the notice goes or which role runs it (seed 004 fixed those).
    assert set(content["parameters"]) == {
        "IamUser",
        "RequestReason",
        "RequesterSlackId",
        "RequestId",
    }
    assert content["assumeRole"] == "AutomationRole.Arn"
    assert (approve["name"], approve["action"]) == ("ApproveKey", "aws:approve")
    assert approve["onFailure"] == "Abort"  # a rejection or timeout never reaches IssueKey
    assert approve["timeoutSeconds"] == 86400
    assert approve["inputs"]["NotificationArn"] == "AccessKeyTopic"
    assert approve["inputs"]["Approvers"] == ["KeyApproverRole.Arn"]
    assert str(approve["inputs"]["MinRequiredApprovals"]) == "1"
    assert (issue["name"], issue["action"]) == ("IssueKey", "aws:invokeLambdaFunction")
    assert issue["inputs"]["FunctionName"] == "IssueAccessKeyFunction.Arn"
    assert "Payload" not in issue["inputs"]  # no JSON text spliced from parameters
    assert issue["inputs"]["InputPayload"] == {
        "execution_id": "{{ automation:EXECUTION_ID }}",
        "iam_user": "{{ IamUser }}",
        "requester": "{{ RequesterSlackId }}",
        "reason": "{{ RequestReason }}",
    }
    assert issue["isEnd"] is True


@pytest.mark.parametrize(
    ("parameters", "approvers"),
    [
        ({}, ["KeyApproverRole.Arn"]),
        (
            {"KeyApprovers": "alice,arn:aws:iam::1:role/Sec"},
            ["alice", "arn:aws:iam::1:role/Sec"],
        ),
        ({"ApproverRoleArns": "arn:aws:iam::1:role/Mine"}, ["arn:aws:iam::1:role/Mine"]),
    ],
)
def test_key_approvers_are_fixed_in_the_document_and_told_to_the_issuer(
    template: dict[str, Any], parameters: dict[str, str], approvers: list[str]
) -> None:
    content = ssm_document_content(template, "AccessKeyDocument", parameters=parameters)
    [approve] = [s for s in content["mainSteps"] if s["action"] == "aws:approve"]
    env = function_environment(
        template, "IssueAccessKeyFunction", {**parameters, "KeyMinApprovals": 2}
    )

    assert approve["inputs"]["Approvers"] == approvers
    # The issuer counts approvals against the same list and quorum the document holds.
    assert env["SIGNOFF_KEY_APPROVERS"].split(",") == approvers
    assert env["SIGNOFF_KEY_MIN_APPROVALS"] == "2"


def _pattern(template: dict[str, Any], name: str) -> re.Pattern[str]:
    content = ssm_document_content(template, "AccessKeyDocument")
    return re.compile(content["parameters"][name]["allowedPattern"])


def test_the_patterns_admit_what_people_type_and_refuse_control_characters(
    template: dict[str, Any],
) -> None:
    reason, user, requester, request_id = (
        _pattern(template, n) for n in ("RequestReason", "IamUser", "RequesterSlackId", "RequestId")
    )

    assert reason.fullmatch("CI deploys for the billing service (ticket OPS-42)")
    assert reason.fullmatch("日本語の理由でも大丈夫")
    for fine in ['say "hi"', "back\\slash", "two\nlines", "tab\there", "x" * 500]:
        assert reason.fullmatch(fine), fine
    for bad in ["", "x" * 501, "nul\x00", "escape\x1b[31m", "del\x7f"]:
        assert not reason.fullmatch(bad), bad
    assert user.fullmatch("svc-deploy.ci@team")
    for bad in ["has space", "a/b", 'q"', "x" * 65]:
        assert not user.fullmatch(bad), bad
    assert requester.fullmatch("U0123ABCD")
    assert requester.fullmatch("W0123ABCD")
    assert not requester.fullmatch("alice")
    assert request_id.fullmatch("5f0c6b1e-3d7a-4c2b-9e8f-1a2b3c4d5e6f")
    assert not request_id.fullmatch("anything")


# Read at import: hypothesis builds its strategies before any fixture exists.
ACCESS_KEY_RUNBOOK = ssm_document_content(load_template(), "AccessKeyDocument")


def _allowed(name: str) -> st.SearchStrategy[str]:
    pattern = ACCESS_KEY_RUNBOOK["parameters"][name]["allowedPattern"]
    return st.from_regex(pattern, fullmatch=True)


@given(
    iam_user=_allowed("IamUser"),
    reason=_allowed("RequestReason"),
    requester=_allowed("RequesterSlackId"),
)
def test_the_issuer_gets_every_input_the_patterns_admit_unchanged(
    iam_user: str, reason: str, requester: str
) -> None:
    [issue] = [s for s in ACCESS_KEY_RUNBOOK["mainSteps"] if s["name"] == "IssueKey"]
    execution_id = "333ba70b-2333-48db-b17e-a5e69c6f4d1c"
    variables = {
        "automation:EXECUTION_ID": execution_id,
        "IamUser": iam_user,
        "RequestReason": reason,
        "RequesterSlackId": requester,
    }

    # Each value is one whole reference: SSM substitutes the value itself, nothing around it.
    payload = {
        key: substitute(value, variables) for key, value in issue["inputs"]["InputPayload"].items()
    }
    assert json.loads(json.dumps(payload)) == {
        "execution_id": execution_id,
        "iam_user": iam_user,
        "requester": requester,
        "reason": reason,
    }


def test_the_runbooks_tell_automation_topics(template: dict[str, Any]) -> None:
    resolve = resolver(template, {"LevelCount": 5})
    topics = [
        resolve.resolve(r["Properties"]["TopicName"])
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::SNS::Topic" and resolve.resource_exists(lid)
    ]

    assert len(topics) == 6
    # AmazonSSMAutomationRole-style policies publish to arn:aws:sns:*:*:Automation* only.
    assert all(t.startswith("Automation") for t in topics)
    assert all(
        r["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SNS::Topic"
    )
