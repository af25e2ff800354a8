"""Slack's and Bolt's own samples through the Slack endpoint, as a Function URL delivers them.

Bolt's scenario-test bodies go in verbatim (their workspace `T111` is not the deployment's: refused
with a log line), then with only their ids changed to a real card's in the deployment's workspace
(acted on). Slack's documented signing example must pass both slack_sdk's verifier and the app's
own pre-check.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from slack_sdk.signature import Clock, SignatureVerifier

import handlers.slack_events
from bot import views
from tests.contract.conftest import sample
from tests.support.signed import LambdaContext, signed_headers
from tests.support.world import APPROVER_ROLE, CHANNEL, SIGNING_SECRET, World

ALICE = "U0ALICE"
SIGNING = sample("slack_signing_example.json")
# The deployment's workspace and app (tests/support/world.py), and the samples' own.
TEAM, APP = "T0SIGNOFF", "A0SIGNOFF"
SAMPLE_TEAM, SAMPLE_APP = "T111", "A111"
REFUSED_WORKSPACE = "Slack request from another workspace or app; refused"


def in_our_workspace(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with the sample's workspace and app ids changed to the deployment's."""
    text = json.dumps(body)
    text = text.replace(f'"{SAMPLE_TEAM}"', f'"{TEAM}"').replace(f'"{SAMPLE_APP}"', f'"{APP}"')
    return dict(json.loads(text))


def function_url_event(body: str, headers: dict[str, str]) -> dict[str, Any]:
    """Powertools' Function URL sample, carrying this POST instead of its browser's GET."""
    event = sample("powertools_lambdaFunctionUrlEvent.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/slack/events"
    event["requestContext"]["http"]["method"] = "POST"
    event["headers"].update({k.lower(): v for k, v in headers.items()})
    event["body"] = body
    return event


def send(body: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """POST `body` to the Slack handler, signed now with the world's secret unless `headers`."""
    event = function_url_event(body, headers or signed_headers(body, SIGNING_SECRET))
    response: dict[str, Any] = handlers.slack_events.lambda_handler(event, LambdaContext())
    return response


def interactive(payload: dict[str, Any]) -> str:
    # As Bolt's own tests send it: f"payload={quote(json.dumps(body))}"
    return f"payload={quote(json.dumps(payload))}"


# -- Slack's documented signing example -----------------------------------------------------------


@pytest.fixture
def at_the_samples_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk's clock at the example's timestamp (2018): else it is refused only as stale."""
    monkeypatch.setattr(Clock, "now", lambda self: float(SIGNING["timestamp"]))


def sample_headers() -> dict[str, str]:
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": SIGNING["timestamp"],
        "x-slack-signature": SIGNING["valid_signature"],
    }


def test_slack_sdk_accepts_slacks_documented_signing_example(at_the_samples_time: None) -> None:
    verifier = SignatureVerifier(SIGNING["signing_secret"])

    assert (
        verifier.generate_signature(timestamp=SIGNING["timestamp"], body=SIGNING["body"])
        == (SIGNING["valid_signature"])
    )
    assert verifier.is_valid_request(SIGNING["body"], sample_headers())


def test_the_app_accepts_slacks_documented_signing_example(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    at_the_samples_time: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The deployment's secret and workspace are the example's; the handler is built afresh.
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING["signing_secret"])
    monkeypatch.setenv("SIGNOFF_SLACK_TEAM_ID", dict(parse_qsl(SIGNING["body"]))["team_id"])
    monkeypatch.delenv("SIGNOFF_SLACK_APP_ID")
    handlers.slack_events.slack_handler.cache_clear()

    with caplog.at_level(logging.WARNING):
        response = send(SIGNING["body"], sample_headers())

    # Past both signature checks (the pre-check and Bolt's): Bolt has no listener for
    # /webhook-collect, so it answers 404 and logs it; a refused signature would be 401.
    assert response["statusCode"] == 404
    assert "Unhandled request" in caplog.text


def test_slacks_example_with_one_byte_changed_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch, at_the_samples_time: None
) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING["signing_secret"])
    handlers.slack_events.slack_handler.cache_clear()

    response = send(SIGNING["body"].replace("text=", "text=x"), sample_headers())

    assert response["statusCode"] == 401


# -- Bolt's scenario-test bodies, verbatim -------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        interactive(sample("bolt_block_actions_body.pylit")),
        interactive(sample("bolt_view_submission_body.pylit")),
        sample("bolt_slash_command_body.pylit"),
    ],
    ids=["block_actions", "view_submission", "slash_command"],
)
def test_bolts_sample_bodies_verbatim_are_refused_as_another_workspace_not_crashed(
    world: World, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        response = send(body)

    assert response["statusCode"] == 401
    assert REFUSED_WORKSPACE in caplog.text
    world.settle()
    assert world.messages() == []


# -- the same bodies, with a real card's ids -----------------------------------------------------


def waiting_card(world: World) -> tuple[str, dict[str, Any]]:
    world.map_user(ALICE, "alice")
    execution_id = world.start_approval([APPROVER_ROLE])
    return execution_id, world.card()


def button(card: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in card["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button on the card")


def trigger_for(world: World, user: str) -> str:
    """A trigger_id Slack would have issued with this click (the emulator checks them)."""
    state = world.emulator.state
    with state.lock:
        return str(state.issue_trigger_locked(state.users[user]).id)


def click_on(world: World, card: dict[str, Any]) -> dict[str, Any]:
    """Bolt's block_actions sample, its ids changed to Alice clicking Approve on `card`."""
    body = in_our_workspace(sample("bolt_block_actions_body.pylit"))
    body["user"]["id"] = ALICE
    body["container"].update(channel_id=CHANNEL, message_ts=card["ts"])
    body["channel"]["id"] = CHANNEL
    body["trigger_id"] = trigger_for(world, ALICE)
    approve = button(card, views.ACTION_APPROVE)
    body["actions"][0].update(action_id=approve["action_id"], value=approve["value"])
    return body


def test_bolts_block_actions_sample_on_a_real_card_opens_the_decision_modal(
    world: World,
) -> None:
    execution_id, card = waiting_card(world)

    response = send(interactive(click_on(world, card)))

    assert response["statusCode"] == 200
    world.settle()
    [modal] = world.views(ALICE)
    assert modal["callback_id"] == views.VIEW_DECISION
    assert execution_id in json.dumps(modal)


def test_bolts_view_submission_sample_on_a_real_modal_sends_the_decision(world: World) -> None:
    execution_id, card = waiting_card(world)
    assert send(interactive(click_on(world, card)))["statusCode"] == 200
    world.settle()
    [modal] = world.views(ALICE)
    body = in_our_workspace(sample("bolt_view_submission_body.pylit"))
    body["user"]["id"] = ALICE
    body["view"].update(
        id=modal["id"],
        root_view_id=modal["id"],
        callback_id=modal["callback_id"],
        private_metadata=modal["private_metadata"],
    )
    # The sample's block and action ids (hspI / maBWU) changed to the modal's comment input.
    values = body["view"]["state"]["values"]
    values[views.COMMENT_BLOCK] = {views.COMMENT_ACTION: values.pop("hspI").pop("maBWU")}

    response = send(interactive(body))

    assert response["statusCode"] == 200
    world.settle()
    assert world.execution_status(execution_id) == "Success"
    [decision] = [
        json.loads(d) for d in world.approve_step(execution_id)["Outputs"]["ApproverDecisions"]
    ]
    assert decision["Approver"].endswith(f"/SignoffApprover/{ALICE}")
    assert decision["Decision"] == "Approve"
    assert decision["Comment"] == "test"  # the sample's own typed value
    assert f"Approved* by <@{ALICE}>" in world.card_text()


def response_url_for(world: World, user: str) -> str:
    """A response_url Slack would have issued with this command (the emulator's)."""
    state = world.emulator.state
    with state.lock:
        target = state.issue_response_url_locked(
            state.users[user], state.channels[CHANNEL], None, is_ephemeral=True
        )
    return f"{world.slack_url}/_emulator/respond/{target.id}"


def test_bolts_slash_command_sample_as_request_key_is_answered(world: World) -> None:
    fields = dict(parse_qsl(sample("bolt_slash_command_body.pylit"), keep_blank_values=True))
    fields.update(
        team_id=TEAM,
        api_app_id=APP,
        command=views.COMMAND_REQUEST_KEY,
        user_id=ALICE,
        channel_id=CHANNEL,
        trigger_id=trigger_for(world, ALICE),
        response_url=response_url_for(world, ALICE),
    )

    response = send(urlencode(fields))

    assert response["statusCode"] == 200
    world.settle()
    # The sample's text, "Hi", is an IAM user and no reason: refused, privately, with why.
    [reply] = world.ephemeral(ALICE)
    assert "why" in reply.lower()
