"""The App Home tab in a running sandbox, through the emulator's control API only: opened,
decided from, and kept current as approvals come and go."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.views.home import ACTION_HOME_APPROVE
from tests.e2e.conftest import SandboxClient

pytestmark = pytest.mark.e2e

LEVEL1 = "approvals-level1"


def shown(home: dict[str, Any] | None) -> str:
    assert home is not None, "no Home tab published"
    return json.dumps(home["blocks"], ensure_ascii=False)


def test_alice_approves_from_her_home_tab(sandbox: SandboxClient) -> None:
    execution_id = sandbox.start_approval("Deploy build 77 to prod")

    home = sandbox.open_home("alice")
    assert "Deploy build 77 to prod" in shown(home)
    assert "Deploy build 77 to prod" not in shown(sandbox.open_home("bob")), "level 2 only"

    sandbox.decide_from_home("alice", ACTION_HOME_APPROVE, "fine by me", about="build 77")

    assert sandbox.execution(execution_id)["AutomationExecutionStatus"] == "Success"
    thread = sandbox.thread(LEVEL1, about=execution_id)
    assert any("<@U0ALICE> approved: fine by me (via Slack)" in t for t in thread)
    after = shown(sandbox.home("alice"))
    assert "Deploy build 77 to prod" not in after
    assert "fine by me" in after and execution_id in after


def test_daves_request_shows_on_his_home_and_follows_alices_decision(
    sandbox: SandboxClient,
) -> None:
    reply = sandbox.command("dave", "/request-key", "dave key for the home tab test")
    assert reply["status"] == 200
    sandbox.open_home("dave")
    assert "Access key for `dave`* — Waiting for approval" in shown(sandbox.home("dave"))
    assert "key for the home tab test" in shown(sandbox.open_home("alice"))

    sandbox.decide_from_home("alice", ACTION_HOME_APPROVE, about="key for the home tab test")

    # Dave did not open his Home again: the decision republished it.
    assert "Access key for `dave`* — Approved" in shown(sandbox.home("dave"))


def test_mallory_who_is_not_mapped_is_told_how_to_get_mapped(sandbox: SandboxClient) -> None:
    home = shown(sandbox.open_home("mallory"))

    assert "not mapped to an AWS approver role" in home
    assert "signoff users map U0MALLORY --role" in home
