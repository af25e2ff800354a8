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
