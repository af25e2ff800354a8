"""The child state machine's payload: what start_approval accepts and how it refuses the rest."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import InvalidPayload
from bot.flows.payload import StartApprovalRequest, describe_invalid_input
from bot.flows.rules import task_key

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
    with pytest.raises(InvalidPayload) as caught:
        StartApprovalRequest.from_event(payload(**changes))
    return describe_invalid_input(caught.value)


def without(*keys: str) -> dict[str, Any]:
    return {k: v for k, v in payload().items() if k not in keys}


def test_the_seed_payload_is_accepted_with_numbers_as_strings() -> None:
    request = StartApprovalRequest.from_event(payload())
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
    request = StartApprovalRequest.from_event(payload(ssm_approvers=approvers))
    assert request.ssm_approvers == (ROLE, "alice")


def test_a_missing_field_is_named_with_what_is_expected() -> None:
    cause = refusal(flow_id=None)
    assert "flow_id is missing" in cause
    assert "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID" in cause


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"ssm_notification_arn": f"arn:aws:sns:us-east-1:{ACCT}:Approvals"}, "Automation"),
        ({"ssm_notification_arn": "sample1@h-o2k.com"}, "is not an SNS topic ARN; send an SNS"),
        ({"ssm_approvers": "[not json"}, "ssm_approvers"),
        ({"ssm_approvers": ""}, "ssm_approvers"),
        ({"ssm_approvers": [f"u{i}" for i in range(11)]}, "1 to 10 approvers"),
        ({"ssm_approvers": "alice, bob smith"}, "neither IAM names nor ARNs"),
        ({"ssm_min_required_approvals": "two"}, "ssm_min_required_approvals"),
        ({"ssm_min_required_approvals": 0}, "from 1 to 10"),
        ({"level": 4}, "level is 4, beyond levels (3)"),
        (
            {"flow_id": "run-7"},
            "flow_id is not in the expected form; send the parent execution ARN",
        ),
        ({"ssm_automation_assume_role": "SsmAutomationAssumeRole"}, "send an IAM role ARN"),
        ({"ssm_message": "x" * 4097}, "4096"),
    ],
)
def test_a_malformed_field_is_named_with_what_is_expected(
    changes: dict[str, Any], names: str
) -> None:
    cause = refusal(**changes)
    field = next(iter(changes))
    assert cause.startswith("Signoff cannot start this approval: ")
    assert f"{field} " in cause and "; send " in cause
    assert names in cause


def test_the_token_never_appears_in_a_refusal_or_in_the_validation_error() -> None:
    with pytest.raises(InvalidPayload) as caught:
        StartApprovalRequest.from_event(payload(token="y" * 3000, ssm_approvers=""))
    cause = describe_invalid_input(caught.value)
    assert "token is not a usable task token" in cause
    assert "yyyy" not in cause and "yyyy" not in str(caught.value)
    assert "yyyy" not in repr(caught.value) and "yyyy" not in repr(caught.value.problems)
    with pytest.raises(InvalidPayload) as other:
        StartApprovalRequest.from_event(payload(ssm_approvers=""))
    assert TOKEN not in str(other.value) and TOKEN not in describe_invalid_input(other.value)
    assert TOKEN not in repr(other.value.problems)


def test_the_request_does_not_show_its_token_when_printed() -> None:
    request = StartApprovalRequest.from_event(payload())
    assert TOKEN not in repr(request) and TOKEN not in str(request)
    assert TOKEN not in repr(request.token) and TOKEN not in f"{request.token}"
    assert TOKEN not in str(msgspec.structs.asdict(request))


def test_a_payload_that_is_not_an_object_says_so() -> None:
    with pytest.raises(InvalidPayload) as caught:
        StartApprovalRequest.from_event("just a string")
    assert describe_invalid_input(caught.value) == (
        "Signoff cannot start this approval: the payload is not a JSON object of the keys below."
    )


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"level": "two"},
            'level is text that does not read as a whole number (write 2 or "2"); send this '
            "level's number, a whole number from 1 to `levels`",
        ),
        (
            {"level": []},
            "level is a list, not a whole number; send this "
            "level's number, a whole number from 1 to `levels`",
        ),
        (
            {"levels": 2.5},
            "levels is 2.5, not a whole number; send how many levels the flow has, a whole "
            "number from 1 to 20",
        ),
        (
            {"levels": 21},
            "levels is above 20; send how many levels the flow has, a whole number from 1 to 20",
        ),
        (
            {"ssm_min_required_approvals": "0"},
            "ssm_min_required_approvals is below 1; send a whole number of approvals from 1 to 10",
        ),
        (
            {"step": "s" * 257},
            "step is longer than 256 characters; send the state's name (`step.$: $$.State.Name`)",
        ),
        (
            {"ssm_doc_name": 5},
            "ssm_doc_name is a whole number, not text or null; "
            "send the name of Signoff's approval document, or nothing",
        ),
        (
            {"ssm_description": "d" * 1025},
            "ssm_description is longer than 1024 characters; send text, at most 1024 characters",
        ),
        (
            {"flow_id": 7},
            "flow_id is a whole number, not text; send the parent execution ARN",
        ),
        ({"ssm_approvers": 5}, "ssm_approvers is a number, not a list or text; send 1 to 10"),
        (
            {"ssm_approvers": ["alice", 5]},
            "ssm_approvers is a list holding something other than text; send 1 to 10",
        ),
        ({"ssm_approvers": ",,"}, "ssm_approvers names no approver; send 1 to 10 approvers"),
        (
            {"ssm_approvers": [f"u{i}" for i in range(11)]},
            "ssm_approvers names 11 approvers, more than 10; send 1 to 10 approvers",
        ),
        ({"ssm_approvers": "[1,"}, "ssm_approvers looks like a JSON list but does not parse"),
        (
            {"ssm_notification_arn": f"arn:aws:sns:us-east-1:{ACCT}:Approvals"},
            "ssm_notification_arn names the topic 'Approvals', not an Automation* one; send an "
            "SNS topic ARN whose name starts with `Automation`",
        ),
    ],
)
def test_each_bad_value_is_named_with_what_is_wrong(changes: dict[str, Any], problem: str) -> None:
    cause = refusal(**changes)
    assert cause.startswith(f"Signoff cannot start this approval: {problem}")
    assert cause.count("; send ") == 1, "one problem, one field"
    assert "Expected `" not in cause and "validation" not in cause, "msgspec's own words"


@pytest.mark.parametrize(
    "field",
    [
        "token",
        "flow_id",
        "levels",
        "level",
        "ssm_notification_arn",
        "ssm_approvers",
        "ssm_min_required_approvals",
    ],
)
def test_each_required_field_is_named_when_missing(field: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        StartApprovalRequest.from_event(without(field))
    [(named, problem)] = caught.value.problems
    assert named == field and problem.startswith("is missing; send ")
    assert f": {field} is missing; send " in describe_invalid_input(caught.value)


def test_the_optional_fields_have_their_defaults() -> None:
    optional = ("step", "ssm_doc_name", "ssm_automation_assume_role", "ssm_description")
    request = StartApprovalRequest.from_event(without(*optional, "ssm_message"))
    assert (request.step, request.ssm_doc_name, request.ssm_automation_assume_role) == (
        "",
        None,
        "",
    )
    assert (request.ssm_description, request.ssm_message) == ("", "")
    assert StartApprovalRequest.from_event(payload(ssm_doc_name=None)).ssm_doc_name is None


# Which numbers a level field reads: msgspec's lax mode, as shipped (docs/decisions, "numbers
# as text"). CloudFormation parameters send "2"; Step Functions sends 2.
@pytest.mark.parametrize(
    ("given", "number"),
    [(2, 2), ("2", 2), ("2.0", 2), (2.0, 2), ("1e0", 1)],
)
def test_a_level_field_reads_a_whole_number_or_text_that_msgspec_reads_as_one(
    given: object, number: int
) -> None:
    request = StartApprovalRequest.from_event(
        payload(level=given, ssm_min_required_approvals=given)
    )
    assert (request.level, request.ssm_min_required_approvals) == (number, number)
    assert (
        StartApprovalRequest.from_event(
            payload(ssm_min_required_approvals="1e1")
        ).ssm_min_required_approvals
        == 10
    )


@pytest.mark.parametrize(
    "given",
    [" 2 ", "+2", "02", "1_0", True, "2.5", 2.5, "0x2", "", "\uff12", {}, [], float("nan")],
)
def test_what_is_not_a_whole_number_is_refused_saying_how_to_write_one(given: object) -> None:
    cause = refusal(ssm_min_required_approvals=given)
    assert cause.startswith("Signoff cannot start this approval: ssm_min_required_approvals is ")
    assert "whole number" in cause.split("; send")[0] and cause.count("; send ") == 1
    if isinstance(given, str):
        assert 'write 2 or "2"' in cause


def test_every_bad_field_is_named_in_the_payloads_order() -> None:
    changes = {"ssm_min_required_approvals": 11, "token": 5, "levels": "x", "level": 50}
    with pytest.raises(InvalidPayload) as caught:
        StartApprovalRequest.from_event(payload(**changes, ssm_message=5))
    fields = ["token", "levels", "level", "ssm_message", "ssm_min_required_approvals"]
    assert [field for field, _ in caught.value.problems] == fields
    cause = describe_invalid_input(caught.value)
    said = ["token is not a usable", *(f"{f} is " for f in fields[1:])]
    assert [cause.index(phrase) for phrase in said] == sorted(cause.index(p) for p in said)


def test_a_level_beyond_levels_is_only_said_when_both_are_numbers() -> None:
    assert "beyond" not in refusal(levels="three", level=4)
    assert "level is 4, beyond levels (3)" in refusal(level=4)


def test_unknown_keys_are_ignored() -> None:
    request = StartApprovalRequest.from_event(payload(confirmation_url="https://x", extra={"a": 1}))
    assert request.flow_id == FLOW and not hasattr(request, "confirmation_url")


def test_a_payload_given_as_a_json_string_is_read_as_json() -> None:
    request = StartApprovalRequest.from_event(json.dumps(payload()))
    assert request.level == 2 and request.token.get_secret_value() == TOKEN


def test_the_request_is_frozen_and_equal_by_value() -> None:
    request = StartApprovalRequest.from_event(payload())
    assert request == StartApprovalRequest.from_event(payload())
    with pytest.raises(AttributeError, match="immutable type: 'StartApprovalRequest'"):
        request.level = 3  # type: ignore[misc]


def test_the_tables_know_a_token_by_its_hash_only() -> None:
    key = task_key(TOKEN)
    assert len(key) == 64 and TOKEN not in key and key == task_key(TOKEN)


# -- what the child passes along (issue 24, bugs 3 and 4) ------------------------------------------

CHILD_ID = "arn:aws:states:us-east-1:123456789012:execution:signoff-approval-level:c-1"
PARENT_ID = "arn:aws:states:us-east-1:123456789012:execution:signoff-approval-flow:p-1"


def seed_level_payload(**execution_input: object) -> dict[str, object]:
    """The child task's payload: the seed's keys, its own id and input (no flow_id/level)."""
    return {
        "token": "T" * 100,
        "step": "StartApproval",
        "execution_id": CHILD_ID,
        "execution_input": execution_input,
        "ssm_doc_name": "Signoff-Approval",
        "ssm_description": "Deploy",
        "ssm_message": "Please review",
        "ssm_notification_arn": "arn:aws:sns:us-east-1:123456789012:AutomationLevel1",
        "ssm_approvers": "alice",
        "ssm_min_required_approvals": "1",
    }


def later_levels(levels: int, **changes: object) -> dict[str, object]:
    flow_input: dict[str, object] = {}
    for n in range(1, levels + 1):
        flow_input |= {
            f"level{n}_ssm_notification_arn": f"arn:aws:sns:us-east-1:123456789012:AutomationL{n}",
            f"level{n}_ssm_approvers": "alice,bob",
            f"level{n}_ssm_min_required_approvals": "1",
            f"level{n}_confirmation_url": "https://example.com/",
            f"level{n}_confirmation_file": "index.html",
        }
    flow_input |= changes
    return {k: v for k, v in flow_input.items() if v is not None}


def test_a_caller_without_level_metadata_gets_a_one_level_approval_of_its_own() -> None:
    # Seed 000's parent passes its own id but no level: each call is its own approval.
    request = StartApprovalRequest.from_event(
        seed_level_payload(AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID=PARENT_ID)
    )

    assert (request.flow_id, request.level, request.levels) == (CHILD_ID, 1, 1)


def test_level_metadata_comes_from_the_childs_input() -> None:
    request = StartApprovalRequest.from_event(
        seed_level_payload(
            AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID=PARENT_ID,
            level=2,
            levels=3,
        )
    )

    assert (request.flow_id, request.level, request.levels) == (PARENT_ID, 2, 3)


def test_level_one_refuses_a_flow_whose_later_level_input_is_incomplete() -> None:
    payload = seed_level_payload(
        AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID=PARENT_ID,
        level=1,
        levels=3,
        flow_input=later_levels(3, level3_ssm_approvers=None, level2_ssm_min_required_approvals=0),
    )

    with pytest.raises(InvalidPayload) as refused:
        StartApprovalRequest.from_event(payload)

    cause = describe_invalid_input(refused.value)
    assert "level2_ssm_min_required_approvals" in cause
    assert "level3_ssm_approvers is missing" in cause
    assert "send 1 to 10 approvers" in cause
    assert "Add or fix them in the flow's input and start the flow again" in cause


def test_level_one_accepts_a_complete_flow() -> None:
    request = StartApprovalRequest.from_event(
        seed_level_payload(
            AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID=PARENT_ID,
            level=1,
            levels=3,
            flow_input=later_levels(3),
        )
    )

    assert request.level == 1 and request.levels == 3


# -- any JSON at all ---------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
_keys = st.sampled_from([*payload(), "flow_input", "execution_input", "execution_id"])


@settings(max_examples=200, deadline=None)
@given(changes=st.dictionaries(_keys, _json, max_size=5))
def test_any_json_is_a_request_or_a_refusal_that_never_quotes_the_token(
    changes: dict[str, Any],
) -> None:
    try:
        StartApprovalRequest.from_event(payload(**changes))
    except InvalidPayload as refused:
        cause = describe_invalid_input(refused)
        assert cause.startswith("Signoff cannot start this approval: ")
        assert TOKEN not in cause and "Expected `" not in cause and "is not valid:" not in cause
