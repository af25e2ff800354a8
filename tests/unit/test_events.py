"""SSM Automation status-change events, as the automation_result Lambda reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.errors import InvalidPayload
from bot.events import EXECUTION_CHANGE, STEP_CHANGE, AutomationStatusEvent

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return event


def test_a_step_event_reads_the_step_and_its_action() -> None:
    event = AutomationStatusEvent.from_event(fixture("eventbridge_ssm_step_status.json"))
    assert event.is_step_event and event.detail_type == STEP_CHANGE
    assert (event.id, event.source) == ("eeca120b-a321-433e-9635-dab369006a6b", "aws.ssm")
    detail = event.detail
    assert (detail.execution_id, detail.definition, detail.status) == (
        "333ba70b-2333-48db-b17e-a5e69c6f4d1c",
        "runcommand1",
        "Success",
    )
    assert (detail.step_name, detail.action, detail.executed_by) == (
        "runFixedCmds",
        "aws:runCommand",
        None,
    )


def test_an_execution_event_has_no_step_and_keeps_who_ran_it() -> None:
    event = AutomationStatusEvent.from_event(fixture("eventbridge_ssm_execution_status.json"))
    assert not event.is_step_event and event.detail_type == EXECUTION_CHANGE
    assert (event.detail.step_name, event.detail.action) == (None, None)
    assert event.detail.executed_by == "arn:aws:iam::123456789012:user/userName"


EXECUTION = "333ba70b-2333-48db-b17e-a5e69c6f4d1c"


def test_the_attribute_names_are_accepted_as_well_as_aws_keys() -> None:
    event = AutomationStatusEvent.from_event(
        {
            "id": "1",
            "detail_type": STEP_CHANGE,
            "source": "aws.ssm",
            "detail": {"execution_id": EXECUTION, "status": "Waiting", "step_name": "Approve"},
        }
    )
    assert (event.detail_type, event.detail.execution_id, event.detail.step_name) == (
        STEP_CHANGE,
        EXECUTION,
        "Approve",
    )
    assert event.detail.definition == ""


def test_every_missing_or_malformed_key_is_named() -> None:
    event = fixture("eventbridge_ssm_step_status.json")
    del event["id"]
    event["detail"].pop("ExecutionId")
    event["detail"]["Status"] = 3
    with pytest.raises(InvalidPayload) as caught:
        AutomationStatusEvent.from_event(event)
    assert caught.value.problems == (
        ("id", "is missing"),
        ("detail.ExecutionId", "is missing; send the SSM Automation execution id, a UUID"),
        ("detail.Status", "is a whole number, not text"),
    )


@pytest.mark.parametrize(
    ("detail", "kind"), [(None, "null"), ("Success", "text"), (["ExecutionId"], "a list")]
)
def test_a_detail_that_is_not_an_object_is_named_once(detail: object, kind: str) -> None:
    event = fixture("eventbridge_ssm_step_status.json") | {"detail": detail}
    with pytest.raises(InvalidPayload) as caught:
        AutomationStatusEvent.from_event(event)
    assert caught.value.problems == (("detail", f"is {kind}, not a JSON object"),)


def test_an_id_that_is_not_ssms_is_refused() -> None:
    event = fixture("eventbridge_ssm_step_status.json")
    event["detail"]["ExecutionId"] = "../../other"
    with pytest.raises(InvalidPayload) as caught:
        AutomationStatusEvent.from_event(event)
    assert caught.value.problems == (
        (
            "detail.ExecutionId",
            "is not in the expected form; send the SSM Automation execution id, a UUID",
        ),
    )
    upper = fixture("eventbridge_ssm_step_status.json")
    upper["detail"]["ExecutionId"] = EXECUTION.upper()
    assert AutomationStatusEvent.from_event(upper).detail.execution_id == EXECUTION.upper()


def test_aws_key_wins_over_the_attribute_name() -> None:
    event = fixture("eventbridge_ssm_step_status.json")
    event["detail"]["execution_id"] = "0" * 8 + "-0000-0000-0000-" + "0" * 12
    assert AutomationStatusEvent.from_event(event).detail.execution_id == EXECUTION
