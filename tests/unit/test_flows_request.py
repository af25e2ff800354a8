"""The child state machine's payload: what start_approval accepts and how it refuses the rest."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.flows import StartApprovalRequest, describe_invalid_input, task_key

ACCT = "123456789012"
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAA" + "x" * 300  # shaped like a task token, and secret
FLOW = f"arn:aws:states:us-east-1:{ACCT}:execution:StepFunctionsCallerForApprovalFlow:run-7"
ROLE = f"arn:aws:iam::{ACCT}:role/SignoffApprover"


def payload(**changes: Any) -> dict[str, Any]:
    """The seed's payload keys (strings where its CloudFormation parameters are strings)."""
    base: dict[str, Any] = {
        "token": TOKEN,
        "step": "InvokeLambdaForSsmStartAutomationExecution",
        "flow_id": FLOW,
        "level": 2,
        "levels": 3,
        "ssm_doc_name": "Signoff-Approval",
        "ssm_automation_assume_role": f"arn:aws:iam::{ACCT}:role/SsmAutomationAssumeRole",
        "ssm_description": "Automation Approval Action For AWS Step Functions.",
        "ssm_message": "Please review file index.html at https://example.com/",
        "ssm_notification_arn": f"arn:aws:sns:us-east-1:{ACCT}:AutomationApprovalLevel2",
        "ssm_approvers": ROLE,
        "ssm_min_required_approvals": "1",
        "region": "us-east-1",  # the seed passes it along; ignored
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def refusal(**changes: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        StartApprovalRequest.model_validate(payload(**changes))
    return describe_invalid_input(caught.value)


def test_the_seed_payload_is_accepted_with_numbers_as_strings() -> None:
    request = StartApprovalRequest.model_validate(payload())
    assert request.ssm_approvers == (ROLE,)
    assert request.ssm_min_required_approvals == 1
    assert (request.level, request.levels) == (2, 3)
    assert request.token.get_secret_value() == TOKEN


@pytest.mark.parametrize(
    "approvers",
    [
        [ROLE, "alice"],
        f'["{ROLE}", "alice"]',
        f"{ROLE}, alice",
        f" {ROLE},alice, ",
    ],
)
def test_approvers_come_as_a_list_a_json_list_or_a_comma_separated_string(
    approvers: object,
) -> None:
    request = StartApprovalRequest.model_validate(payload(ssm_approvers=approvers))
    assert request.ssm_approvers == (ROLE, "alice")


def test_a_missing_field_is_named_with_what_is_expected() -> None:
    cause = refusal(flow_id=None)
    assert "flow_id is missing" in cause
    assert "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID" in cause


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"ssm_notification_arn": f"arn:aws:sns:us-east-1:{ACCT}:Approvals"}, "Automation"),
        ({"ssm_notification_arn": "sample1@h-o2k.com"}, "not an SNS topic ARN"),
        ({"ssm_approvers": "[not json"}, "ssm_approvers"),
        ({"ssm_approvers": ""}, "ssm_approvers"),
        ({"ssm_approvers": [f"u{i}" for i in range(11)]}, "1 to 10 approvers"),
        ({"ssm_approvers": "alice, bob smith"}, "neither IAM names nor ARNs"),
        ({"ssm_min_required_approvals": "two"}, "ssm_min_required_approvals"),
        ({"ssm_min_required_approvals": 0}, "from 1 to 10"),
        ({"level": 4}, "level is 4, beyond levels (3)"),
        ({"flow_id": "run-7"}, "flow_id is not a Step Functions execution ARN"),
        ({"ssm_automation_assume_role": "SsmAutomationAssumeRole"}, "not an IAM role ARN"),
        ({"ssm_message": "x" * 4097}, "4096"),
    ],
)
def test_a_malformed_field_is_named_with_what_is_expected(
    changes: dict[str, Any], names: str
) -> None:
    cause = refusal(**changes)
    field = next(iter(changes))
    assert cause.startswith("Signoff cannot start this approval: ")
    assert f"{field} " in cause and "expected" in cause
    assert names in cause


def test_the_token_never_appears_in_a_refusal_or_in_the_validation_error() -> None:
    with pytest.raises(ValidationError) as caught:
        StartApprovalRequest.model_validate(payload(token="y" * 3000, ssm_approvers=""))
    cause = describe_invalid_input(caught.value)
    assert "token is not a usable task token" in cause
    assert "yyyy" not in cause and "yyyy" not in str(caught.value)
    with pytest.raises(ValidationError) as other:
        StartApprovalRequest.model_validate(payload(ssm_approvers=""))
    assert TOKEN not in str(other.value) and TOKEN not in describe_invalid_input(other.value)


def test_the_request_does_not_show_its_token_when_printed() -> None:
    request = StartApprovalRequest.model_validate(payload())
    assert TOKEN not in repr(request) and TOKEN not in str(request.model_dump())


def test_a_payload_that_is_not_an_object_says_so() -> None:
    with pytest.raises(ValidationError) as caught:
        StartApprovalRequest.model_validate("just a string")
    assert "not a JSON object" in describe_invalid_input(caught.value)


def test_the_tables_know_a_token_by_its_hash_only() -> None:
    key = task_key(TOKEN)
    assert len(key) == 64 and TOKEN not in key and key == task_key(TOKEN)
