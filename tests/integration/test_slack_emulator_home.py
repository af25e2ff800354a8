"""The emulator's App Home against a real Bolt app over HTTP: `app_home_opened` signed as the
Events API sends it, views.publish checked like Slack, Home buttons clicked as view clicks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack import BackgroundServer, SlackEmulator

TOKEN = "xoxb-emulator-home-test-token"
SECRET = "emulator-home-test-signing-secret"
ALICE = "U0ALICE"


def home(text: str, blocks: int = 1) -> dict[str, Any]:
    return {
        "type": "home",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{text} {i}"}}
            for i in range(blocks - 1)
        ]
        + [
            {
                "type": "actions",
                "block_id": "entry",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "home_click",
                        "value": "v1",
                        "text": {"type": "plain_text", "text": text},
                    }
                ],
            }
        ],
    }


@dataclass
class Harness:
    emu: SlackEmulator
    events: list[dict[str, Any]] = field(default_factory=list)
    clicks: list[dict[str, Any]] = field(default_factory=list)

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = requests.request(method, f"{self.emu.url}/_emulator/{path}", timeout=15, **kwargs)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def client(self) -> WebClient:
        return WebClient(token=TOKEN, base_url=self.emu.api_url)

    def published(self, count: int) -> None:
        """Wait for the bot's `count`th views.publish: Bolt acks an event before its listener
        runs, so the publish lands after the emulator has the answer."""
        waited = self.control("GET", "wait", params={"method": "views.publish", "count": count})
        assert waited["ok"], f"the bot never published {count} Home(s)"


@pytest.fixture
def harness() -> Iterator[Harness]:
    emu = SlackEmulator(signing_secret=SECRET, bot_token=TOKEN)
    emu.start()
    harness = Harness(emu)
    app = App(token=TOKEN, signing_secret=SECRET, client=harness.client(), name="home-test")

    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], client: WebClient) -> None:
        harness.events.append(event)
        client.views_publish(user_id=event["user"], view=home(f"Hello {len(harness.events)}"))

    @app.action("home_click")
    def on_home_click(ack: Ack, body: dict[str, Any]) -> None:
        harness.clicks.append(body)  # before the ack, which answers the emulator
        ack()

    bot = BackgroundServer(SlackRequestHandler(app))
    bot.start()
    emu.configure(bot_url=f"{bot.url}/slack/events")
    try:
        yield harness
    finally:
        bot.stop()
        emu.stop()


def test_opening_the_home_sends_a_signed_event_and_shows_what_the_bot_published(
    harness: Harness,
) -> None:
    assert harness.control("GET", "home", params={"user": "alice"})["home"] is None

    first = harness.control("POST", "home", json={"user": "alice"})
    harness.published(1)
    published = harness.control("GET", "home", params={"user": "alice"})["home"]
    second = harness.control("POST", "home", json={"user": "alice"})
    harness.published(2)

    # Bolt verified the signature and ran the listener: a 200, and the publish landed.
    assert first["status"] == second["status"] == 200
    shown = harness.control("GET", "home", params={"user": "alice"})
    assert shown["user"] == ALICE
    assert shown["home"]["type"] == "home"
    assert "Hello 2" in json.dumps(shown["home"]["blocks"])
    opened, again = harness.events
    assert opened["tab"] == "home" and opened["user"] == ALICE
    assert opened["channel"].startswith("D")
    # Slack sends the Home's current view once one was published, not before.
    assert "view" not in opened
    assert again["view"]["id"] == published["id"]


def test_the_messages_tab_sends_the_event_with_its_tab(harness: Harness) -> None:
    harness.control("POST", "home", json={"user": "alice", "tab": "messages"})
    harness.published(1)

    [event] = harness.events
    assert event["tab"] == "messages"


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"view": home("x")}, "invalid_arguments"),
        ({"user_id": "U0NOBODY", "view": home("x")}, "user_not_found"),
        (
            {
                "user_id": ALICE,
                "view": {
                    **home("x"),
                    "type": "modal",
                    "title": {"type": "plain_text", "text": "t"},
                },
            },
            "invalid_arguments",
        ),
        ({"user_id": ALICE, "view": home("x", blocks=101)}, "invalid_blocks"),
        ({"user_id": ALICE, "view": home("x" * 3000, blocks=90)}, "view_too_large"),
        ({"user_id": ALICE, "view": home("x"), "hash": "1.stale"}, "hash_conflict"),
    ],
    ids=["no-user", "unknown-user", "modal", "101-blocks", "over-250kB", "stale-hash"],
)
def test_views_publish_refuses_what_slack_refuses(
    harness: Harness, arguments: dict[str, Any], error: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        harness.client().api_call("views.publish", json=arguments)

    assert refused.value.response["error"] == error
    assert harness.control("GET", "home", params={"user": "alice"})["home"] is None


def test_a_publish_keeps_the_view_id_and_honours_the_current_hash(harness: Harness) -> None:
    client = harness.client()
    first = client.views_publish(user_id=ALICE, view=home("one"))["view"]

    second = client.views_publish(user_id=ALICE, view=home("two"), hash=first["hash"])["view"]

    assert second["id"] == first["id"]
    assert second["hash"] != first["hash"]


def test_a_home_button_is_clicked_as_slack_sends_a_home_tab_click(harness: Harness) -> None:
    harness.client().views_publish(user_id=ALICE, view=home("Approve"))
    view = harness.control("GET", "home", params={"user": "alice"})["home"]

    reply = harness.control(
        "POST",
        "click",
        json={"user": "alice", "view_id": view["id"], "action_id": "home_click"},
    )

    assert reply["status"] == 200
    [body] = harness.clicks
    assert body["container"] == {"type": "view", "view_id": view["id"]}
    assert body["view"]["type"] == "home"
    assert body["actions"][0]["block_id"] == "entry"
    assert body["actions"][0]["value"] == "v1"
    assert "response_url" not in body
    assert body["trigger_id"]
