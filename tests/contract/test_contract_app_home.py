"""Bolt's own `app_home_opened` and `url_verification` samples through the Slack endpoint, as a
Function URL delivers them: the Events API path acks, verifies the URL, and publishes the Home."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.views.home import ACTION_HOME_APPROVE
from tests.contract.conftest import sample
from tests.contract.test_contract_slack_requests import (
    ALICE,
    REFUSED_WORKSPACE,
    in_our_workspace,
    send,
)
from tests.support.world import APPROVER_ROLE, World


def home_opened(tab: str) -> dict[str, Any]:
    """Bolt's envelope carrying Bolt's Home-tab event (its `tab` as asked), the ids changed to
    Alice in the deployment's workspace, and the org-wide install made a workspace install (as
    bolt-python's `build_payload` in tests/scenario_tests/test_events_assistant.py has it):
    Signoff is installed in one workspace, never org-wide (org_deploy_enabled: false)."""
    body = in_our_workspace(sample("bolt_app_home_opened_org_body.pylit"))
    body["event"] = {**sample("bolt_app_home_opened_home_event.pylit"), "user": ALICE, "tab": tab}
    del body["enterprise_id"]
    [authorization] = body["authorizations"]
    authorization.update(enterprise_id=None, team_id=body["team_id"], is_enterprise_install=False)
    return body


def test_bolts_app_home_opened_sample_verbatim_is_refused_as_another_workspace(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        response = send(json.dumps(sample("bolt_app_home_opened_org_body.pylit")))

    assert response["statusCode"] == 401
    assert REFUSED_WORKSPACE in caplog.text


def test_the_home_tab_event_is_acked_and_publishes_what_waits(world: World) -> None:
    world.map_user(ALICE, "alice")
    world.start_approval([APPROVER_ROLE], message="Deploy build 42 to prod")

    response = send(json.dumps(home_opened("home")))

    assert response["statusCode"] == 200
    world.settle()
    home = world.home("alice")
    assert home is not None
    shown = json.dumps(home["blocks"])
    assert "Deploy build 42 to prod" in shown and ACTION_HOME_APPROVE in shown


def test_the_messages_tab_event_is_acked_and_publishes_nothing(world: World) -> None:
    world.map_user(ALICE, "alice")

    response = send(json.dumps(home_opened("messages")))

    assert response["statusCode"] == 200
    world.settle()
    assert world.home("alice") is None


def test_slacks_url_verification_of_the_event_request_url_is_answered(world: World) -> None:
    body = sample("bolt_url_verification_body.pylit")

    response = send(json.dumps(body))

    assert response["statusCode"] == 200
    assert body["challenge"] in response["body"]
