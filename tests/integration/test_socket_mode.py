"""`signoff dev`: the Bolt app over Socket Mode, connected to the emulator's Socket Mode endpoint.

The emulator's HTTP Request URL is switched off, so whatever reaches the app came down the
WebSocket (apps.connections.open with the app-level token, hello, envelopes, acks).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from bot.config import Settings
from bot.dev import socket_mode_handler
from bot.errors import ConfigError
from bot.views import ACTION_APPROVE, VIEW_KEY_REQUEST
from tests.support.world import APPROVER_ROLE, World


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    # Lazy listeners run on Bolt's own threads here, which the world's settle() cannot see.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def dev(world: World) -> Iterator[World]:
    """`signoff dev` connected to the emulator, which has no Request URL any more."""
    emulator = world.emulator
    env = {**world.env, "SLACK_APP_TOKEN": emulator.app_token, "SLACK_SIGNING_SECRET": ""}
    handler = socket_mode_handler(Settings.from_env(env), world.session)
    emulator.configure(bot_url=None)
    handler.connect()
    try:
        assert emulator.wait_for(lambda: emulator.socket_mode.connected == 1)
        yield world
    finally:
        # The emulator hangs up first: slack_sdk's close() takes the socket's receive lock,
        # which its reader holds in recv() until the socket's 3 s timeout, or until the
        # other end closes.
        emulator.socket_mode.stop()
        handler.close()


def test_a_slash_command_reaches_the_app_over_the_socket_and_opens_its_form(dev: World) -> None:
    reply = dev.command("dave", "/request-key")

    assert reply["status"] == 200, reply
    assert reply["view"]["callback_id"] == VIEW_KEY_REQUEST
    config = requests.get(f"{dev.slack_url}/_emulator/config", timeout=5).json()
    assert config["bot_url"] is None
    assert config["socket_mode_connections"] == 1


def test_an_approve_click_over_the_socket_approves_and_updates_the_card(dev: World) -> None:
    dev.map_user("U0ALICE", "alice")
    execution_id = dev.start_approval([APPROVER_ROLE])

    submitted = dev.decide("alice", ACTION_APPROVE, comment="from my laptop")

    assert submitted["status"] == 200, submitted
    assert eventually(lambda: "Approved* by <@U0ALICE>" in dev.card_text())
    dev.settle()
    assert dev.execution_status(execution_id) == "Success"
    assert eventually(lambda: any("from my laptop" in t for t in dev.thread()))


def test_opening_the_home_tab_over_the_socket_publishes_the_home(dev: World) -> None:
    dev.map_user("U0ALICE", "alice")
    dev.start_approval([APPROVER_ROLE], message="Deploy build 42 over the socket")

    reply = dev.control("POST", "home", json={"user": "alice"})

    assert reply["status"] == 200, reply
    assert eventually(
        lambda: "build 42 over the socket" in json.dumps((dev.home("alice") or {}).get("blocks"))
    )


def test_without_a_connection_the_emulator_posts_to_the_request_url_again(world: World) -> None:
    emulator = world.emulator
    env = {**world.env, "SLACK_APP_TOKEN": emulator.app_token}
    handler = socket_mode_handler(Settings.from_env(env), world.session)
    handler.connect()
    assert emulator.wait_for(lambda: emulator.socket_mode.connected == 1)
    handler.close()
    assert eventually(lambda: emulator.socket_mode.connected == 0)

    reply = world.command("dave", "/request-key")

    assert reply["status"] == 200, reply  # answered by the Function URL
    assert reply["view"]["callback_id"] == VIEW_KEY_REQUEST


def test_a_bot_token_cannot_open_a_socket_and_an_app_token_nothing_else(world: World) -> None:
    def call(method: str, token: str) -> str:
        answer = requests.post(
            f"{world.emulator.api_url}{method}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        ).json()
        return str(answer.get("error") or answer["url"])

    assert call("apps.connections.open", world.env["SLACK_BOT_TOKEN"]) == "not_allowed_token_type"
    assert call("auth.test", world.emulator.app_token) == "not_allowed_token_type"
    assert call("apps.connections.open", world.emulator.app_token).startswith("ws://")


@pytest.mark.parametrize(
    ("app_token", "said"),
    [(None, "SLACK_APP_TOKEN is not set"), ("xoxb-not-an-app-token", "app-level token")],
)
def test_signoff_dev_says_what_token_it_needs(
    world: World, app_token: str | None, said: str
) -> None:
    env = {**world.env, "SLACK_APP_TOKEN": app_token or ""}

    with pytest.raises(ConfigError, match=said):
        socket_mode_handler(Settings.from_env(env), world.session)
