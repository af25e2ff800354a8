"""AWS's own samples through the real handlers: SSM's EventBridge events, Powertools' SNS event.

Each sample goes in verbatim (its ids match nothing of Signoff's: ignored, with a log line), then
with only its ids changed to a real card's (acted on). Never a crash.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

import handlers.approval_notice
import handlers.automation_result
from bot.views import ACTION_APPROVE
from tests.contract.conftest import sample
from tests.support.signed import LambdaContext
from tests.support.world import APPROVAL_DOCUMENT, APPROVER_ROLE, World

ALICE = "U0ALICE"
STEP_SAMPLE = "ssm_eventbridge_step_status_change.json"
EXECUTION_SAMPLE = "ssm_eventbridge_execution_status_change.json"


def result(event: dict[str, Any]) -> dict[str, str]:
    return handlers.automation_result.lambda_handler(event, LambdaContext())  # type: ignore[arg-type]


def notice(event: dict[str, Any]) -> dict[str, int]:
    return handlers.approval_notice.lambda_handler(event, LambdaContext())  # type: ignore[arg-type]


def approved_execution(world: World) -> str:
    """A real approval, decided by Alice through her role, with its card in the channel."""
    world.map_user(ALICE, "alice")
    execution_id = world.start_approval([APPROVER_ROLE])
    world.decide("alice", ACTION_APPROVE, comment="LGTM")
    assert world.execution_status(execution_id) == "Success"
    return execution_id


def with_ids(event: dict[str, Any], execution_id: str, **detail: str) -> dict[str, Any]:
    """The sample with its execution id, its ARN and the runbook's name changed, nothing else."""
    changed = copy.deepcopy(event)
    old = changed["detail"]["ExecutionId"]
    changed["resources"] = [r.replace(old, execution_id) for r in changed["resources"]]
    changed["detail"].update(ExecutionId=execution_id, Definition=APPROVAL_DOCUMENT, **detail)
    return changed


def test_the_step_event_sample_verbatim_is_ignored_as_no_approve_step(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        answer = result(sample(STEP_SAMPLE))

    assert answer == {"result": "ignored", "reason": "step action aws:runCommand"}
    assert "status event ignored" in caplog.text


def test_the_step_event_sample_for_a_real_approve_step_syncs_its_card(world: World) -> None:
    execution_id = approved_execution(world)
    step = world.approve_step(execution_id)["StepName"]

    answer = result(
        with_ids(sample(STEP_SAMPLE), execution_id, StepName=step, Action="aws:approve")
    )

    assert answer == {"result": "synced", "outcome": "Approved"}
    assert f"Approved* by <@{ALICE}>" in world.card_text()


def test_the_execution_event_sample_verbatim_is_ignored_as_an_unknown_execution(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # Another team's runbook (`runcommand1`) Signoff has no card for: dropped after one read.
    with caplog.at_level(logging.DEBUG, logger="bot.results"):
        answer = result(sample(EXECUTION_SAMPLE))

    assert answer == {"result": "ignored", "reason": "no card for this execution"}
    assert "no card for this execution: event dropped" in caplog.text


def test_the_execution_event_sample_for_a_real_execution_syncs_its_card(world: World) -> None:
    execution_id = approved_execution(world)

    answer = result(with_ids(sample(EXECUTION_SAMPLE), execution_id))

    assert answer == {"result": "synced", "outcome": "Approved"}
    assert f"Approved* by <@{ALICE}>" in world.card_text()


def test_the_sns_sample_verbatim_posts_nothing_and_says_why(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        answer = notice(sample("powertools_snsEvent.json"))

    assert answer == {"posted": 0}
    assert "approval notice without an execution id" in caplog.text
    assert world.messages() == []


def silent_approval(world: World) -> str:
    """A waiting approval whose notice went to a topic nobody reads, its status events lost:
    no card yet (the notice under test is the first news of it)."""
    events = world.client("events")
    for rule in world.result_rules():
        events.disable_rule(Name=rule)
    topic = world.client("sns").create_topic(Name="AutomationUnread")["TopicArn"]
    execution_id = world.start_approval([APPROVER_ROLE], notification_arn=topic)
    assert world.messages() == []
    return execution_id


@pytest.mark.parametrize(
    "message",
    [
        # What the notice may carry: AWS documents no format (README, "Semantics AWS does not
        # document"), so each plausible variant.
        "Approval requested. Approve or reject: https://us-east-1.console.aws.amazon.com/"
        "systems-manager/automation/execution/{id}/approval?region=us-east-1",
        "Automation execution {id} is waiting for your approval. Message: Deploy build 42",
        '{{"AutomationExecutionId": "{id}", "StepName": "approve"}}',
        '{{"execution_id": "{id}"}}',
    ],
    ids=["console-url", "text-without-url", "json-aws-key", "json-runbook-key"],
)
def test_the_sns_sample_carrying_a_real_execution_posts_its_card(
    world: World, message: str
) -> None:
    execution_id = silent_approval(world)
    event = sample("powertools_snsEvent.json")
    event["Records"][0]["Sns"]["Message"] = message.format(id=execution_id)
    event["Records"][0]["Sns"]["TopicArn"] = world.topic_arn

    answer = notice(event)

    assert answer == {"posted": 1}
    assert execution_id in world.card_text()
    assert "Deploy build 42 to prod" in world.card_text()
