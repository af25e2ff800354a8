"""The Slack emulator against a real Bolt app over HTTP: signatures, payloads, Web API, faults."""

from __future__ import annotations

import dataclasses
import gc
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from sandbox.slack import BackgroundServer, SlackEmulator
from sandbox.slack.demo_bot import (
    APPROVE,
    REASON_BLOCK,
    REASON_INPUT,
    REJECT,
    build_demo_app,
)
from sandbox.slack.demo_bot import card as card_blocks
from sandbox.slack.state import (
    LOG_LIMIT,
    PRUNE_ABOVE,
    RESPONSE_URL_TTL,
    TRIGGER_MEMORY,
    EmulatorState,
)
from sandbox.slack.workspace import Channel, demo_workspace

TOKEN = "xoxb-emulator-test-token"
SECRET = "emulator-test-signing-secret"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Harness:
    """The emulator, a demo bot that records every request it accepted, and ways to poke both."""

    emu: SlackEmulator
    bot_url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.emu.url

    def client(self, token: str = TOKEN, **kwargs: Any) -> WebClient:
        return WebClient(token=token, base_url=self.emu.api_url, **kwargs)

    def http(
        self, method: str, path: str, body: Any = None, *, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        data, headers = None, {}
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310 - always the emulator's http URL
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            with NO_PROXY.open(request, timeout=15) as response:
                return response.status, dict(response.headers), json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), json.load(exc)

    def get(self, path: str) -> Any:
        status, _, body = self.http("GET", path)
        assert status == 200, body
        return body

    def post(self, path: str, body: Any) -> Any:
        status, _, answer = self.http("POST", path, body)
        assert status == 200, answer
        return answer

    def messages(self, channel: str) -> list[dict[str, Any]]:
        return self.get(f"/_emulator/messages?channel={urllib.parse.quote(channel)}")["messages"]

    def wait(self, query: str) -> None:
        assert self.get(f"/_emulator/wait?{query}&timeout=5")["ok"], f"never happened: {query}"

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [b for b in self.received if b.get("type", b.get("command")) == kind]

    def demo_card(self, user: str = "dave", channel: str = "approvals") -> dict[str, Any]:
        before = len(self.messages(channel))
        result = self.post(
            "/_emulator/command", {"user": user, "channel": channel, "command": "/demo"}
        )
        assert result["status"] == 200
        self.wait(f"channel={channel}&count={before + 1}")
        return self.messages(channel)[-1]


def _modal(callback_id: str, title: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "notify_on_close": True,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Next"},
        "blocks": blocks,
    }


WIZARD = _modal(
    "wizard",
    "Wizard",
    [
        {
            "type": "input",
            "block_id": "env",
            "label": {"type": "plain_text", "text": "Environment"},
            "element": {
                "type": "static_select",
                "action_id": "env_select",
                "options": [
                    {"text": {"type": "plain_text", "text": t}, "value": t} for t in ("dev", "prod")
                ],
            },
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "wizard_more",
                    "text": {"type": "plain_text", "text": "More"},
                }
            ],
        },
    ],
)
STEP_TWO = _modal(
    "wizard_step_two",
    "Step two",
    [{"type": "section", "text": {"type": "mrkdwn", "text": "Almost there"}}],
)


def _test_bot(api_url: str, received: list[dict[str, Any]]) -> App:
    app = build_demo_app(api_url=api_url, bot_token=TOKEN, signing_secret=SECRET)

    @app.middleware
    def record(body: dict[str, Any], next: Any) -> Any:
        received.append(body)
        return next()

    @app.command("/slow")
    def on_command_slow(ack: Ack) -> None:
        time.sleep(1.0)
        ack()

    @app.command("/wizard")
    def on_command_wizard(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        client.views_open(trigger_id=body["trigger_id"], view=WIZARD)
        ack()

    @app.action("wizard_more")
    def on_action_more(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        client.views_push(trigger_id=body["trigger_id"], view=STEP_TWO)
        ack()

    @app.view_closed("wizard_step_two")
    def on_view_closed(ack: Ack) -> None:
        ack()

    return app


@pytest.fixture(scope="module")
def running() -> Iterator[Harness]:
    emu = SlackEmulator(signing_secret=SECRET, bot_token=TOKEN)
    emu.start()
    received: list[dict[str, Any]] = []
    bot = BackgroundServer(SlackRequestHandler(_test_bot(emu.api_url, received)))
    bot.start()
    bot_url = f"{bot.url}/slack/events"
    emu.configure(bot_url=bot_url)
    try:
        yield Harness(emu, bot_url, received)
    finally:
        bot.stop()
        emu.stop()


@pytest.fixture
def harness(running: Harness) -> Harness:
    running.post("/_emulator/reset", {})
    running.received.clear()
    return running


# -- requests to the bot ------------------------------------------------------------------------


def test_a_command_reaches_the_bot_signed_and_its_ack_shows_only_to_the_invoker(
    harness: Harness,
) -> None:
    result = harness.post(
        "/_emulator/command",
        {"user": "dave", "channel": "approvals", "command": "/demo", "text": "please"},
    )

    assert result["status"] == 200
    (sent,) = harness.kinds("/demo")
    assert sent["user_id"] == "U0DAVE"
    assert sent["user_name"] == "dave"
    assert sent["channel_id"] == "C0APPROVALS"
    assert sent["channel_name"] == "approvals"
    assert sent["text"] == "please"
    assert sent["team_id"] == "T0SIGNOFF"
    assert sent["api_app_id"] == "A0SIGNOFF"
    assert sent["trigger_id"] == result["trigger_id"]
    assert sent["response_url"].startswith(f"{harness.base}/_emulator/respond/")
    dave = harness.get("/_emulator/ephemeral?user=dave")["ephemeral"]
    assert [e["text"] for e in dave] == ["Posting a demo approval…"]
    assert harness.get("/_emulator/ephemeral?user=alice")["ephemeral"] == []
    harness.wait("channel=approvals&count=1")
    assert harness.messages("approvals")[0]["text"] == "Approval needed: rotate key"


def test_a_wrong_signing_secret_is_refused_by_bolt_with_401(harness: Harness) -> None:
    impostor = SlackEmulator(
        signing_secret="not-the-secret", bot_token=TOKEN, bot_url=harness.bot_url
    )
    impostor.start()
    try:
        client = WebClient(token=TOKEN, base_url=impostor.api_url)
        ts = client.chat_postMessage(channel="approvals", text="x", blocks=card_blocks("U0DAVE"))[
            "ts"
        ]
        clicked = impostor.click("alice", APPROVE, channel="approvals", ts=ts)
        command = impostor.command("dave", "approvals", "/demo")
    finally:
        impostor.stop()

    assert clicked["status"] == 401
    assert clicked["error"] == "dispatch_failed"
    assert command["status"] == 401
    assert command["ephemeral"]["text"] == '/demo failed with the error "dispatch_failed"'
    assert harness.received == []


def test_a_click_sends_slacks_block_actions_payload_and_the_update_shows(harness: Harness) -> None:
    card = harness.demo_card()
    harness.received.clear()

    result = harness.post(
        "/_emulator/click",
        {"user": "alice", "channel": "approvals", "ts": card["ts"], "action_id": APPROVE},
    )

    assert result["status"] == 200
    (payload,) = harness.kinds("block_actions")
    assert payload["user"] == {
        "id": "U0ALICE",
        "username": "alice",
        "name": "alice",
        "team_id": "T0SIGNOFF",
    }
    assert payload["container"] == {
        "type": "message",
        "message_ts": card["ts"],
        "channel_id": "C0APPROVALS",
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": "C0APPROVALS", "name": "approvals"}
    assert payload["message"]["ts"] == card["ts"]
    assert payload["message"]["blocks"] == card["blocks"]
    assert payload["api_app_id"] == "A0SIGNOFF"
    assert payload["trigger_id"] == result["trigger_id"]
    assert payload["response_url"].startswith(harness.base)
    assert payload["state"] == {"values": {}}
    (action,) = payload["actions"]
    assert action["action_id"] == APPROVE
    assert action["block_id"] == "decision"
    assert action["value"] == "U0DAVE"
    assert action["type"] == "button"
    assert action["text"]["text"] == "Approve"
    assert float(action["action_ts"]) > 0

    harness.wait(f"channel=approvals&thread={card['ts']}&count=1")
    (updated,) = harness.messages("approvals")
    assert updated["text"] == "Approved"
    assert "edited" in updated
    assert updated["blocks"][-1]["elements"][0]["text"].endswith("Approved by <@U0ALICE>")
    assert [r["text"] for r in updated["replies"]] == ["<@U0ALICE> approved."]


def test_a_click_on_an_unknown_button_is_a_404_naming_the_real_ones(harness: Harness) -> None:
    card = harness.demo_card()
    status, _, body = harness.http(
        "POST",
        "/_emulator/click",
        {"user": "alice", "channel": "approvals", "ts": card["ts"], "action_id": "nope"},
    )
    assert status == 404
    assert body["error"] == "action_not_found"
    assert APPROVE in body["detail"]


def test_a_modal_opens_on_a_fresh_trigger_and_its_submission_reaches_the_bot(
    harness: Harness,
) -> None:
    card = harness.demo_card()

    clicked = harness.post(
        "/_emulator/click",
        {"user": "alice", "channel": "approvals", "ts": card["ts"], "action_id": REJECT},
    )

    view = clicked["view"]
    assert view["callback_id"] == "demo_reason"
    assert view["id"].startswith("V")
    assert view["title"] == "Reject request"
    (open_view,) = harness.get("/_emulator/views?user=alice")["views"]
    assert open_view["id"] == view["id"]
    assert harness.get("/_emulator/views?user=bob")["views"] == []

    refused = harness.post(
        "/_emulator/submit",
        {"user": "alice", "view_id": view["id"], "values": {REASON_BLOCK: {REASON_INPUT: "no"}}},
    )
    assert refused["status"] == 200
    assert refused["response_action"] == "errors"
    assert refused["errors"] == {REASON_BLOCK: "Say a little more (5+ characters)."}
    (still_open,) = harness.get("/_emulator/views?user=alice")["views"]
    assert still_open["errors"] == {REASON_BLOCK: "Say a little more (5+ characters)."}

    accepted = harness.post(
        "/_emulator/submit",
        {
            "user": "alice",
            "view_id": view["id"],
            "values": {REASON_BLOCK: {REASON_INPUT: "Not during the freeze"}},
        },
    )
    assert accepted["closed"] is True
    assert harness.get("/_emulator/views?user=alice")["views"] == []
    submission = harness.kinds("view_submission")[-1]
    assert submission["view"]["id"] == view["id"]
    assert submission["view"]["state"]["values"] == {
        REASON_BLOCK: {REASON_INPUT: {"type": "plain_text_input", "value": "Not during the freeze"}}
    }
    assert json.loads(submission["view"]["private_metadata"]) == {
        "channel": "C0APPROVALS",
        "ts": card["ts"],
        "requester": "U0DAVE",
    }
    assert submission["user"]["id"] == "U0ALICE"

    harness.wait("channel=@alice&count=1")
    (dm,) = harness.messages("@alice")
    assert dm["text"] == "You rejected the request: Not during the freeze"
    harness.wait(f"channel=approvals&thread={card['ts']}&count=1")
    (rejected,) = harness.messages("approvals")
    assert rejected["text"] == "Rejected"
    assert rejected["replies"][0]["text"] == "<@U0ALICE> rejected: Not during the freeze"


def test_slacks_client_refuses_an_empty_required_input_without_calling_the_bot(
    harness: Harness,
) -> None:
    opened = harness.post(
        "/_emulator/command",
        {"user": "dave", "channel": "approvals", "command": "/demo", "text": "modal"},
    )
    view_id = opened["view"]["id"]
    harness.received.clear()

    result = harness.post("/_emulator/submit", {"user": "dave", "view_id": view_id, "values": {}})

    assert result["sent"] is False
    assert result["errors"] == {REASON_BLOCK: "This field is required."}
    assert harness.received == []
    assert harness.get("/_emulator/views?user=dave")["views"][0]["errors"] == result["errors"]


def test_views_open_checks_the_trigger_like_slack(harness: Harness) -> None:
    client = harness.client()
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []}

    with pytest.raises(SlackApiError) as unknown:
        client.views_open(trigger_id="123.456.abc", view=modal)
    assert unknown.value.response["error"] == "invalid_trigger_id"

    card = harness.demo_card()
    clicked = harness.post(
        "/_emulator/click",
        {"user": "alice", "channel": "approvals", "ts": card["ts"], "action_id": REJECT},
    )
    with pytest.raises(SlackApiError) as reused:
        client.views_open(trigger_id=clicked["trigger_id"], view=modal)
    assert reused.value.response["error"] == "exchanged_trigger_id"

    harness.post("/_emulator/config", {"trigger_ttl_seconds": 0})
    late = harness.post(
        "/_emulator/click",
        {"user": "bob", "channel": "approvals", "ts": card["ts"], "action_id": REJECT},
    )
    assert late["view"] is None
    opened = harness.get("/_emulator/calls?method=views.open")["calls"]
    assert opened[-1]["response"]["error"] == "expired_trigger_id"


def test_views_update_honours_the_hash_and_push_stops_at_three(harness: Harness) -> None:
    client = harness.client()
    opened = harness.post(
        "/_emulator/command",
        {"user": "dave", "channel": "approvals", "command": "/demo", "text": "modal"},
    )["view"]
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Step 2"}, "blocks": []}

    with pytest.raises(SlackApiError) as conflict:
        client.views_update(view_id=opened["id"], hash="stale", view=modal)
    assert conflict.value.response["error"] == "hash_conflict"
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)["view"]
    assert updated["id"] == opened["id"]
    assert updated["hash"] != opened["hash"]
    assert harness.get("/_emulator/views?user=dave")["views"][0]["title"] == "Step 2"

    with pytest.raises(SlackApiError) as missing:
        client.views_update(view_id="VNOPE", view=modal)
    assert missing.value.response["error"] == "not_found"


def test_clicks_inside_a_modal_push_a_view_and_closing_it_tells_the_bot(harness: Harness) -> None:
    opened = harness.post(
        "/_emulator/command", {"user": "carol", "channel": "approvals", "command": "/wizard"}
    )["view"]

    clicked = harness.post(
        "/_emulator/click",
        {
            "user": "carol",
            "view_id": opened["id"],
            "action_id": "wizard_more",
            "values": {"env": {"env_select": "prod"}},
        },
    )

    (payload,) = harness.kinds("block_actions")
    assert payload["container"] == {"type": "view", "view_id": opened["id"]}
    assert "response_url" not in payload
    assert payload["view"]["state"]["values"]["env"]["env_select"] == {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": "prod"}, "value": "prod"},
    }
    pushed = clicked["view"]
    assert pushed["callback_id"] == "wizard_step_two"
    stack = harness.get("/_emulator/views?user=carol")["views"]
    assert [v["id"] for v in stack] == [opened["id"], pushed["id"]]
    assert stack[1]["view"]["previous_view_id"] == opened["id"]
    assert stack[1]["view"]["root_view_id"] == opened["id"]

    closed = harness.post("/_emulator/close", {"user": "carol"})

    assert closed["closed"] == [pushed["id"]]
    (notice,) = harness.kinds("view_closed")
    assert notice["view"]["id"] == pushed["id"]
    assert notice["is_cleared"] is False
    assert [v["id"] for v in harness.get("/_emulator/views?user=carol")["views"]] == [opened["id"]]
    status, _, bad = harness.http(
        "POST",
        "/_emulator/submit",
        {"user": "carol", "values": {"env": {"env_select": "staging"}}},
    )
    assert (status, bad["error"]) == (400, "invalid_value")


# -- Web API -------------------------------------------------------------------------------------


def test_tokens_are_checked_like_slack(harness: Harness) -> None:
    status, _, missing = harness.http("POST", "/api/auth.test", form={})
    assert (status, missing) == (200, {"ok": False, "error": "not_authed"})
    status, _, wrong = harness.http("POST", "/api/auth.test", form={"token": "xoxb-wrong"})
    assert (status, wrong) == (200, {"ok": False, "error": "invalid_auth"})
    with pytest.raises(SlackApiError) as refused:
        harness.client(token="xoxb-wrong").chat_postMessage(channel="approvals", text="hi")
    assert refused.value.response["error"] == "invalid_auth"

    status, _, by_field = harness.http("POST", "/api/auth.test", form={"token": TOKEN})
    assert by_field["ok"] is True
    me = harness.client().auth_test()
    assert (me["user_id"], me["bot_id"], me["team_id"]) == ("U0SIGNOFF", "B0SIGNOFF", "T0SIGNOFF")


def test_posting_validates_channel_blocks_and_length(harness: Harness) -> None:
    client = harness.client()

    def error_of(**kwargs: Any) -> str:
        with pytest.raises(SlackApiError) as exc:
            client.chat_postMessage(**kwargs)
        return str(exc.value.response["error"])

    assert error_of(channel="C0NOPE", text="hi") == "channel_not_found"
    assert (
        error_of(channel="approvals", text="x", blocks=[{"type": "carousel"}]) == "invalid_blocks"
    )
    long_header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    assert error_of(channel="approvals", text="x", blocks=[long_header]) == "invalid_blocks"
    divider = {"type": "divider"}
    assert error_of(channel="approvals", text="x", blocks=[divider] * 51) == "invalid_blocks"
    assert error_of(channel="approvals", text="x" * 40_001) == "msg_too_long"
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns too, rightly
        assert error_of(channel="approvals") == "no_text"
    assert harness.messages("approvals") == []

    by_name = client.chat_postMessage(channel="#approvals", text="hi", blocks=[divider] * 50)
    assert by_name["channel"] == "C0APPROVALS"
    assert by_name["message"]["blocks"][0]["block_id"]  # Slack fills in missing block ids


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "text", "block_id", "elements", "fields", "accessory"])
            | st.sampled_from(["element", "label", "action_id", "options", "value", "style"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=16,
)
BLOCK_TYPES = ["section", "header", "actions", "context", "input", "image", "divider", "carousel"]
BLOCKS = JSON | st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(BLOCK_TYPES)},
        optional={
            "text": JSON,
            "elements": JSON,
            "fields": JSON,
            "accessory": JSON,
            "element": JSON,
            "label": JSON,
            "block_id": JSON,
        },
    ),
    max_size=4,
)


@settings(max_examples=50, deadline=None)
@given(blocks=BLOCKS)
def test_any_blocks_get_an_answer_slack_could_give_never_a_crash(
    running: Harness, blocks: Any
) -> None:
    status, _, body = running.http(
        "POST",
        "/api/chat.postMessage",
        {"token": TOKEN, "channel": "approvals-level3", "text": "x", "blocks": blocks},
    )
    assert status == 200
    assert body["ok"] or body["error"] == "invalid_blocks", body


def test_form_encoded_blocks_are_parsed_like_json_ones(harness: Harness) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    status, _, body = harness.http(
        "POST",
        "/api/chat.postMessage",
        form={"token": TOKEN, "channel": "C0APPROVALS", "blocks": json.dumps(blocks)},
    )
    assert status == 200
    assert body["ok"] is True
    assert body["message"]["blocks"][0]["text"]["text"] == "*hi*"


def test_chat_update_refuses_what_slack_refuses(harness: Harness) -> None:
    client = harness.client()
    mine = client.chat_postMessage(channel="approvals", text="v1")
    theirs = harness.post(
        "/_emulator/post", {"user": "carol", "channel": "approvals", "text": "hi"}
    )

    with pytest.raises(SlackApiError) as missing:
        client.chat_update(channel="approvals", ts="1.000001", text="v2")
    assert missing.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as not_mine:
        client.chat_update(channel="approvals", ts=theirs["ts"], text="v2")
    assert not_mine.value.response["error"] == "cant_update_message"

    client.chat_update(channel=mine["channel"], ts=mine["ts"], text="v2")
    assert [m["text"] for m in harness.messages("approvals")] == ["v2", "hi"]


def test_thread_replies_appear_under_their_parent(harness: Harness) -> None:
    client = harness.client()
    parent = client.chat_postMessage(channel="approvals", text="card")
    client.chat_postMessage(channel="approvals", thread_ts=parent["ts"], text="one")
    client.chat_postMessage(
        channel="approvals", thread_ts=parent["ts"], text="two", reply_broadcast=True
    )

    top = harness.messages("approvals")
    assert [m["text"] for m in top] == ["card", "two"]
    assert [r["text"] for r in top[0]["replies"]] == ["one", "two"]
    assert top[0]["reply_count"] == 2
    replies = client.conversations_replies(channel="C0APPROVALS", ts=parent["ts"])["messages"]
    assert [m["text"] for m in replies] == ["card", "one", "two"]
    history = client.conversations_history(channel="C0APPROVALS")["messages"]
    assert [m["text"] for m in history] == ["two", "card"]


def test_dms_open_on_a_stable_channel_per_user(harness: Harness) -> None:
    client = harness.client()
    first = client.conversations_open(users="U0DAVE")["channel"]["id"]
    again = client.conversations_open(users="U0DAVE")["channel"]["id"]
    other = client.conversations_open(users="U0BOB")["channel"]["id"]

    assert first == again == "D0DAVE"
    assert other != first
    client.chat_postMessage(channel=first, text="your key is ready")
    assert [m["text"] for m in harness.messages("@dave")] == ["your key is ready"]
    assert client.conversations_info(channel=first)["channel"]["is_im"] is True
    with pytest.raises(SlackApiError) as unknown:
        client.conversations_open(users="U0NOBODY")
    assert unknown.value.response["error"] == "user_not_found"


def test_users_and_permalinks(harness: Harness) -> None:
    client = harness.client()
    alice = client.users_info(user="U0ALICE")["user"]
    assert (alice["name"], alice["profile"]["email"]) == ("alice", "alice@example.com")
    found = client.users_lookupByEmail(email="dave@example.com")["user"]
    assert found["id"] == "U0DAVE"
    names = {m["name"] for m in client.users_list()["members"]}
    assert {"alice", "bob", "carol", "dave", "mallory", "signoff"} <= names
    with pytest.raises(SlackApiError) as nobody:
        client.users_lookupByEmail(email="eve@example.com")
    assert nobody.value.response["error"] == "users_not_found"

    posted = client.chat_postMessage(channel="approvals", text="card")
    link = client.chat_getPermalink(channel="C0APPROVALS", message_ts=posted["ts"])["permalink"]
    assert link == f"{harness.base}/archives/C0APPROVALS/p{posted['ts'].replace('.', '')}"


def test_history_reads_newest_first_within_a_window_page_by_page(harness: Harness) -> None:
    client = harness.client()
    ts = [client.chat_postMessage(channel="approvals", text=f"m{i}")["ts"] for i in range(5)]
    client.chat_postMessage(
        channel="approvals", thread_ts=ts[0], text="a reply stays in its thread"
    )

    def texts(**kwargs: Any) -> list[str]:
        page = client.conversations_history(channel="C0APPROVALS", **kwargs)
        return [m["text"] for m in page["messages"]]

    assert texts() == ["m4", "m3", "m2", "m1", "m0"]
    assert texts(oldest=ts[1], latest=ts[3]) == ["m2"]
    assert texts(oldest=ts[1], latest=ts[3], inclusive=True) == ["m3", "m2", "m1"]
    first = client.conversations_history(channel="C0APPROVALS", limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    assert texts(limit=2, cursor=cursor) == ["m2", "m1"]
    with pytest.raises(SlackApiError) as bad:
        client.conversations_history(channel="C0APPROVALS", oldest="yesterday")
    assert bad.value.response["error"] == "invalid_ts_oldest"


def test_message_metadata_is_read_back_only_when_asked_for(harness: Harness) -> None:
    client = harness.client()
    metadata = {"event_type": "signoff_post", "event_payload": {"key": "card#e-1#approve"}}
    card = client.chat_postMessage(channel="approvals", text="card", metadata=metadata)
    client.chat_postMessage(channel="approvals", thread_ts=card["ts"], text="r", metadata=metadata)

    plain = client.conversations_history(channel="C0APPROVALS")["messages"][0]
    assert "metadata" not in plain
    [full] = client.conversations_history(channel="C0APPROVALS", include_all_metadata=True)[
        "messages"
    ]
    assert full["metadata"] == metadata
    thread = client.conversations_replies(
        channel="C0APPROVALS", ts=card["ts"], include_all_metadata=True
    )["messages"]
    assert [m["metadata"] for m in thread] == [metadata, metadata]
    with pytest.raises(SlackApiError) as bad:
        client.chat_postMessage(channel="approvals", text="x", metadata={"event_payload": {}})
    assert bad.value.response["error"] == "invalid_metadata_format"


def test_the_bot_reads_and_posts_only_where_it_was_invited() -> None:
    workspace = demo_workspace()
    workspace = dataclasses.replace(
        workspace,
        channels=(
            *workspace.channels,
            Channel("C0UNINVITED", "uninvited", bot_member=False),
            Channel("G0SECRET", "secret", is_private=True, bot_member=False),
        ),
    )
    with SlackEmulator(signing_secret=SECRET, bot_token=TOKEN, workspace=workspace) as emu:
        client = WebClient(token=TOKEN, base_url=emu.api_url)
        for channel, error in (
            ("C0UNINVITED", "not_in_channel"),
            ("G0SECRET", "channel_not_found"),
            ("C0NOWHERE", "channel_not_found"),
        ):
            for call in (
                lambda c: client.conversations_history(channel=c),
                lambda c: client.chat_postMessage(channel=c, text="hi"),
            ):
                with pytest.raises(SlackApiError) as refused:
                    call(channel)
                assert refused.value.response["error"] == error, channel
        info = client.conversations_info(channel="C0UNINVITED")["channel"]
        assert info["is_member"] is False


def test_a_permalink_opens_the_page_on_its_message(harness: Harness) -> None:
    client = harness.client()
    parent = client.chat_postMessage(channel="approvals", text="card")
    reply = client.chat_postMessage(channel="approvals", thread_ts=parent["ts"], text="r")
    link = client.chat_getPermalink(channel="C0APPROVALS", message_ts=reply["ts"])["permalink"]
    assert link.startswith(f"{harness.base}/archives/C0APPROVALS/p{reply['ts'].replace('.', '')}")
    assert f"thread_ts={parent['ts']}" in link

    request = urllib.request.Request(link.split("?")[0])  # noqa: S310 - the emulator's http URL
    no_redirects = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    with pytest.raises(urllib.error.HTTPError) as redirected:
        no_redirects.open(request, timeout=5)
    assert redirected.value.code == 302
    assert redirected.value.headers["Location"].endswith(f"/#channel=C0APPROVALS&ts={reply['ts']}")
    with pytest.raises(SlackApiError) as missing:
        client.chat_getPermalink(channel="C0APPROVALS", message_ts="1.000001")
    assert missing.value.response["error"] == "message_not_found"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_ephemeral_messages_go_to_one_user_and_never_into_history(harness: Harness) -> None:
    client = harness.client()
    sent = client.chat_postEphemeral(channel="approvals", user="U0MALLORY", text="not for you")

    (shown,) = harness.get("/_emulator/ephemeral?user=mallory")["ephemeral"]
    assert shown["ts"] == sent["message_ts"]
    assert shown["text"] == "not for you"
    assert harness.messages("approvals") == []
    with pytest.raises(SlackApiError) as update:
        client.chat_update(channel="approvals", ts=sent["message_ts"], text="x")
    assert update.value.response["error"] == "message_not_found"


def test_a_click_in_an_ephemeral_message_carries_no_message_and_can_replace_it(
    harness: Harness,
) -> None:
    button = {
        "type": "button",
        "action_id": "eph_button",
        "text": {"type": "plain_text", "text": "Show me"},
        "value": "req-7",
    }
    sent = harness.client().chat_postEphemeral(
        channel="approvals",
        user="U0BOB",
        text="choose",
        blocks=[{"type": "actions", "block_id": "eph", "elements": [button]}],
    )

    harness.post(
        "/_emulator/click",
        {
            "user": "bob",
            "channel": "approvals",
            "ts": sent["message_ts"],
            "action_id": "eph_button",
        },
    )

    (payload,) = harness.kinds("block_actions")
    assert payload["container"] == {
        "type": "message",
        "message_ts": sent["message_ts"],
        "channel_id": "C0APPROVALS",
        "is_ephemeral": True,
    }
    assert "message" not in payload
    assert payload["actions"][0]["value"] == "req-7"
    path = payload["response_url"].removeprefix(harness.base)
    harness.post(path, {"replace_original": True, "text": "here it is"})
    (shown,) = harness.get("/_emulator/ephemeral?user=bob")["ephemeral"]
    assert (shown["ts"], shown["text"], shown["blocks"]) == (sent["message_ts"], "here it is", [])


def test_response_urls_post_replace_and_delete_like_slack(harness: Harness) -> None:
    card = harness.demo_card()
    harness.post(
        "/_emulator/click",
        {"user": "alice", "channel": "approvals", "ts": card["ts"], "action_id": APPROVE},
    )
    harness.wait(f"channel=approvals&thread={card['ts']}&count=1")
    path = harness.kinds("block_actions")[-1]["response_url"].removeprefix(harness.base)

    assert harness.post(path, {"text": "just for alice"})["ok"] is True
    assert [e["text"] for e in harness.get("/_emulator/ephemeral?user=alice")["ephemeral"]] == [
        "just for alice"
    ]
    harness.post(path, {"text": "replaced", "replace_original": True})
    assert harness.messages("approvals")[0]["text"] == "replaced"
    harness.post(path, {"response_type": "in_channel", "text": "for everyone"})
    assert [m["text"] for m in harness.messages("approvals")] == ["replaced", "for everyone"]
    harness.post(path, {"delete_original": True})
    # The card had a thread, so Slack leaves a tombstone in its place.
    assert [m["text"] for m in harness.messages("approvals")] == [
        "This message was deleted.",
        "for everyone",
    ]
    harness.post(path, {"text": "fifth and last use"})

    status, _, used = harness.http("POST", path, {"text": "sixth"})
    assert (status, used["error"]) == (404, "used_url")
    assert any(c["method"] == "response_url" for c in harness.get("/_emulator/calls")["calls"])


# -- limits and faults ---------------------------------------------------------------------------


def test_rate_limit_is_off_by_default_and_429s_with_retry_after_when_on(harness: Harness) -> None:
    client = harness.client()
    for i in range(5):
        client.chat_postMessage(channel="approvals", text=f"burst {i}")

    harness.post("/_emulator/config", {"post_message_rate_limit": 1})
    client.chat_postMessage(channel="approvals", text="first")
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="approvals", text="second")
    assert limited.value.response.status_code == 429
    assert limited.value.response["error"] == "ratelimited"
    assert limited.value.response.headers["Retry-After"] == "1"
    client.chat_postMessage(channel="approvals-level1", text="another channel is fine")

    patient = harness.client()
    patient.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    assert patient.chat_postMessage(channel="approvals", text="after waiting")["ok"] is True
    assert harness.messages("approvals")[-1]["text"] == "after waiting"


def test_faults_are_consumed_one_per_call(harness: Harness) -> None:
    client = harness.client()
    posted = client.chat_postMessage(channel="approvals", text="v1")
    harness.post(
        "/_emulator/faults",
        {"method": "chat.update", "status": 429, "count": 2, "retry_after": 3},
    )
    harness.post("/_emulator/faults", {"method": "chat.update", "status": 500})

    statuses = []
    for _ in range(3):
        with pytest.raises(SlackApiError) as failed:
            client.chat_update(channel=posted["channel"], ts=posted["ts"], text="v2")
        statuses.append(failed.value.response.status_code)
    assert statuses == [429, 429, 500]
    assert failed.value.response["error"] == "internal_error"
    assert client.chat_update(channel=posted["channel"], ts=posted["ts"], text="v2")["ok"]

    harness.post("/_emulator/faults", {"method": "auth.test", "error": "fatal_error"})
    assert harness.get("/_emulator/faults")["faults"][0]["method"] == "auth.test"
    status, _, cleared = harness.http("DELETE", "/_emulator/faults")
    assert (status, cleared["faults"]) == (200, [])
    assert client.auth_test()["ok"] is True


def test_a_fault_after_processing_answers_an_error_for_a_call_that_happened(
    harness: Harness,
) -> None:
    client = harness.client()
    harness.post(
        "/_emulator/faults",
        {"method": "chat.postMessage", "status": 500, "after_processing": True},
    )
    with pytest.raises(SlackApiError) as failed:
        client.chat_postMessage(channel="approvals", text="landed anyway")
    assert failed.value.response.status_code == 500
    assert [m["text"] for m in harness.messages("approvals")] == ["landed anyway"]


def test_a_delay_fault_times_the_client_out(harness: Harness) -> None:
    # The delay dwarfs the client's timeout, so the call is surely still in flight when asked
    # below, however slow the machine is at that moment.
    harness.post("/_emulator/faults", {"method": "auth.test", "delay_seconds": 3})
    impatient = harness.client(timeout=0.3)
    with pytest.raises(TimeoutError):
        impatient.auth_test()
    # Like a slow Slack, the call still lands afterwards (and must not leak into the next test).
    assert harness.get("/_emulator/wait?in_flight=0&timeout=0.1")["timed_out"] is True
    harness.wait("in_flight=0")
    assert [c["method"] for c in harness.get("/_emulator/calls")["calls"]] == ["auth.test"]


def test_a_bot_slower_than_three_seconds_gets_slacks_timeout(harness: Harness) -> None:
    harness.post("/_emulator/config", {"ack_timeout_seconds": 0.3})
    result = harness.post(
        "/_emulator/command", {"user": "dave", "channel": "approvals", "command": "/slow"}
    )
    assert result["status"] is None
    assert result["error"] == "operation_timeout"
    assert result["ephemeral"]["text"] == '/slow failed with the error "operation_timeout"'


# -- the logs ------------------------------------------------------------------------------------


def test_the_calls_log_records_every_call_without_the_token(harness: Harness) -> None:
    client = harness.client()
    client.chat_postMessage(channel="approvals", text="secret AKIAEXAMPLEKEY leaked")
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="nowhere", text="x")

    calls = harness.get("/_emulator/calls")["calls"]
    assert [c["method"] for c in calls] == ["chat.postMessage", "chat.postMessage"]
    assert calls[0]["params"]["text"] == "secret AKIAEXAMPLEKEY leaked"
    assert calls[0]["response"]["ok"] is True
    assert calls[1]["response"]["error"] == "channel_not_found"
    dumped = json.dumps(calls)
    assert "AKIAEXAMPLEKEY" in dumped
    assert TOKEN not in dumped
    since = harness.get(f"/_emulator/calls?since={calls[0]['seq']}")["calls"]
    assert [c["seq"] for c in since] == [calls[1]["seq"]]


def test_wait_returns_when_lazy_work_lands_and_times_out_otherwise(harness: Harness) -> None:
    card = harness.demo_card()
    clicked = harness.post(
        "/_emulator/click",
        {"user": "alice", "channel": "approvals", "ts": card["ts"], "action_id": APPROVE},
    )
    done = harness.get("/_emulator/wait?method=chat.update&count=1&timeout=5")
    assert done["ok"] is True
    assert done["version"] >= clicked["version"]

    never = harness.get("/_emulator/wait?method=views.push&timeout=0.2")
    assert never == {"ok": False, "timed_out": True, "version": never["version"]}
    assert harness.get("/_emulator/wait?quiet=0.1&timeout=2")["ok"] is True


def test_the_control_api_names_bad_requests(harness: Harness) -> None:
    status, _, body = harness.http(
        "POST", "/_emulator/command", {"user": "eve", "channel": "approvals", "command": "/demo"}
    )
    assert (status, body["error"]) == (404, "user_not_found")
    status, _, body = harness.http("GET", "/_emulator/messages?channel=nowhere")
    assert (status, body["error"]) == (404, "channel_not_found")
    status, _, body = harness.http("POST", "/_emulator/config", {"colour": "blue"})
    assert (status, body["error"]) == (400, "unknown_setting")
    status, _, body = harness.http("POST", "/_emulator/faults", {"method": "chat.update"})
    assert (status, body["error"]) == (400, "invalid_arguments")


def test_expired_triggers_and_response_urls_are_dropped_oldest_first_past_the_limit() -> None:
    clock = [0.0]
    state = EmulatorState(demo_workspace(), now=lambda: clock[0])
    alice = state.user("alice")
    channel = next(iter(state.channels.values()))
    assert alice is not None
    old_trigger = state.issue_trigger_locked(alice)
    old_url = state.issue_response_url_locked(alice, channel, None, is_ephemeral=False)
    for _ in range(PRUNE_ABOVE):
        state.issue_trigger_locked(alice)
        state.issue_response_url_locked(alice, channel, None, is_ephemeral=False)
    # Nothing has expired yet: past the limit, every entry is still kept.
    clock[0] = TRIGGER_MEMORY / 2
    state.issue_trigger_locked(alice)
    recent_url = state.issue_response_url_locked(alice, channel, None, is_ephemeral=False)
    assert old_trigger.id in state.triggers
    assert old_url.id in state.response_targets

    clock[0] = RESPONSE_URL_TTL + 1
    newest_trigger = state.issue_trigger_locked(alice)
    newest_url = state.issue_response_url_locked(alice, channel, None, is_ephemeral=False)
    assert list(state.triggers) == [newest_trigger.id]
    # A response_url lives 30 minutes, a trigger TRIGGER_MEMORY seconds.
    assert list(state.response_targets) == [recent_url.id, newest_url.id]


def test_the_logs_keep_each_entry_as_it_was_then_and_at_most_the_limit() -> None:
    state = EmulatorState(demo_workspace())
    params = {"channel": "C1", "blocks": [{"type": "section"}]}
    state.log_call("chat.postMessage", params, 200, {"ok": True})
    params["blocks"].append({"type": "divider"})  # the caller's dict changes afterwards
    state.log_interaction({"kind": "click", "payload": {"actions": [{"action_id": "a"}]}})
    state.log_interaction({})

    [call] = state.calls
    assert call.to_json()["params"]["blocks"] == [{"type": "section"}]
    assert call.to_json()["method"] == call.method == "chat.postMessage"
    assert [i.to_json().get("kind") for i in state.interactions] == ["click", None]
    assert set(state.interactions[0].to_json()) == {"seq", "time", "kind", "payload"}
    assert [i.seq for i in state.interactions] == [1, 2]
    # Text, not nested dicts: a full garbage collection has nothing in the log to walk.
    assert not gc.is_tracked(call.text)

    for n in range(LOG_LIMIT + 5):
        state.log_call("auth.test", {"n": n}, 200, {"ok": True})
    assert len(state.calls) == LOG_LIMIT
    assert state.calls[-1].to_json()["params"] == {"n": LOG_LIMIT + 4}
    assert state.calls[-1].seq == LOG_LIMIT + 6
