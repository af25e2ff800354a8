"""The EventBridge rules match SSM's documented approval and execution events of every runbook.

Signoff posts cards for any team's runbook (the notice comes from that runbook's own SNS topic),
so a rule limited to Signoff's documents left those cards to the reconciler, minutes late.
automation_result drops, with one table read, the events of executions it has no card for.

Fixtures are AWS's sample events (SSM user guide, "Systems Manager event examples"), verbatim in
tests/fixtures/; variants change only what a real approval event would carry. Matching is done by
moto's implementation of EventBridge patterns, not by a copy of the rule.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from sandbox.template import functions, resolver

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Signoff's two documents, and other teams' runbooks (AWS's sample is "runcommand1").
DOCUMENTS = ("Signoff-Approval", "Signoff-AccessKey", "runcommand1", "AWS-ApproveSomething")
CLOSING = ("Success", "Failed", "TimedOut", "Cancelled")


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / f"eventbridge_{name}.json").read_text())
    return event


def variant(name: str, **detail: Any) -> dict[str, Any]:
    event = copy.deepcopy(sample(name))
    event["detail"].update(detail)
    return event


@pytest.fixture(scope="module")
def rules(template: dict[str, Any]) -> dict[str, EventPattern]:
    resolve = resolver(
        template, refs={"ApprovalDocument": DOCUMENTS[0], "AccessKeyDocument": DOCUMENTS[1]}
    )
    events = functions(template)["AutomationResultFunction"]["Events"]
    return {
        name: EventPattern.load(json.dumps(resolve.resolve(spec["Properties"]["Pattern"])))
        for name, spec in events.items()
        if spec["Type"] == "EventBridgeRule"
    }


def matched_by(rules: dict[str, EventPattern], event: dict[str, Any]) -> list[str]:
    return sorted(name for name, pattern in rules.items() if pattern.matches_event(event))


def test_the_samples_are_matched_as_aws_sent_them(rules: dict[str, EventPattern]) -> None:
    # runcommand1 is someone else's runbook: its execution ending may close one of its cards;
    # its aws:runCommand step is no approval.
    assert matched_by(rules, sample("ssm_step_status")) == []
    assert matched_by(rules, sample("ssm_execution_status")) == ["ExecutionStatus"]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("status", ["Waiting", *CLOSING])
def test_every_state_of_an_approval_step_reaches_automation_result(
    rules: dict[str, EventPattern], document: str, status: str
) -> None:
    event = variant(
        "ssm_step_status",
        Definition=document,
        Action="aws:approve",
        StepName="ApprovalAction",
        Status=status,
    )

    assert matched_by(rules, event) == ["ApprovalStepStatus"]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("status", ["Waiting", *CLOSING])
def test_executions_of_every_runbook_reach_automation_result(
    rules: dict[str, EventPattern], document: str, status: str
) -> None:
    event = variant("ssm_execution_status", Definition=document, Status=status)

    assert matched_by(rules, event) == ["ExecutionStatus"]


@pytest.mark.parametrize(
    "change",
    [
        {"Action": "aws:invokeLambdaFunction", "Status": "Success"},  # the key issuer step
        {"Action": "aws:runCommand", "Status": "Failed"},
        {"Action": "aws:approve", "Status": "InProgress"},
        {"Action": "aws:approve", "Status": "Pending"},
        {"Action": "aws:sleep", "Definition": "runcommand1", "Status": "Success"},
    ],
)
def test_other_steps_and_statuses_are_left_out(
    rules: dict[str, EventPattern], change: dict[str, str]
) -> None:
    event = variant("ssm_step_status", **{"Definition": "Signoff-Approval", **change})

    assert matched_by(rules, event) == []


def test_execution_events_that_are_not_news_are_left_out(rules: dict[str, EventPattern]) -> None:
    running = variant("ssm_execution_status", Definition="Signoff-AccessKey", Status="InProgress")
    foreign = variant("ssm_execution_status", Definition="runcommand2", Status="Pending")

    assert matched_by(rules, running) == []
    assert matched_by(rules, foreign) == []


@pytest.mark.parametrize("source", ["aws.ec2", "custom.ssm", "aws.states"])
def test_other_sources_are_left_out_even_with_the_same_detail(
    rules: dict[str, EventPattern], source: str
) -> None:
    event = variant("ssm_step_status", Definition="Signoff-Approval", Action="aws:approve")
    event["source"] = source

    assert matched_by(rules, event) == []


def test_the_detail_type_decides_which_rule_matches(rules: dict[str, EventPattern]) -> None:
    event = variant("ssm_step_status", Definition="Signoff-Approval", Action="aws:approve")
    event["detail-type"] = "EC2 Automation Execution Status-change Notification"
    del event["detail"]["Action"]

    assert matched_by(rules, event) == ["ExecutionStatus"]
