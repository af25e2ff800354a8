import json

import pytest

from bot.notices import extract_execution_id

EID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.mark.parametrize(
    "message",
    [
        json.dumps({"execution_id": EID, "step": "approve"}),
        json.dumps({"AutomationExecutionId": EID.upper()}),
        f"Approval needed. Execution id: {EID}. Message: deploy to prod",
        "Approve here: https://us-east-1.console.aws.amazon.com/systems-manager/automation/"
        f"execution/{EID}/approval?region=us-east-1",
        f"Automation execution {EID} is waiting for approval\n\nPlease approve",
        f"{EID}",
    ],
)
def test_finds_the_execution_id_wherever_the_notice_carries_it(message: str) -> None:
    assert extract_execution_id(message) == EID


@pytest.mark.parametrize(
    "message",
    [
        "Please approve the deployment",
        "",
        json.dumps({"execution_id": "not-a-uuid"}),
        # two unrelated ids and no hint which is the execution: not a guess
        "ticket 11111111-2222-4333-8444-555555555555 and 66666666-7777-4888-9999-000000000000",
    ],
)
def test_returns_none_rather_than_guessing(message: str) -> None:
    assert extract_execution_id(message) is None


# README, "Semantics AWS does not document": SSM's notice has no documented format, so each
# plausible shape of it is read (the texts with and without the console URL are above).
@pytest.mark.parametrize(
    "message",
    [
        # A runbook author's own notice before the step (an aws:executeAwsApi sns:Publish seen in
        # public runbooks): the console's approval URL on a line of its own.
        "ApproveURL: https://eu-west-1.console.aws.amazon.com/systems-manager/automation/"
        f"execution/{EID}/approval",
        # The console URL of the execution itself, the id in capitals.
        "https://us-east-1.console.aws.amazon.com/systems-manager/automation/execution/"
        f"{EID.upper()}?region=us-east-1",
        # JSON, the id under a nested key or in a text field of it.
        json.dumps({"detail": {"ExecutionId": EID}, "source": "aws.ssm"}),
        json.dumps({"Message": f"Approve execution {EID} please", "Subject": "Approval"}),
        # Text around it in several lines, another UUID-free id nearby.
        f"Automation: Signoff-Approval\nExecution ID: {EID}\nStep: approve\nRequest: req-42",
    ],
    ids=["runbook-approve-url", "console-url-upper", "json-nested", "json-text", "multi-line"],
)
def test_every_plausible_notice_shape_yields_the_execution(message: str) -> None:
    assert extract_execution_id(message) == EID
