"""Request bodies Slack sends to an app, field for field (bolt-python's scenario tests show them).

Pure functions of emulator objects: no state, no I/O, so the shapes are easy to read and test.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from sandbox.slack.state import ChannelState, Ephemeral, Message, OpenView
from sandbox.slack.workspace import User, Workspace

# Slack still sends the deprecated verification token; Bolt ignores it when signatures are on.
VERIFICATION_TOKEN = "emulator-verification-token"


def action_ts() -> str:
    return f"{time.time():.6f}"


def _team(ws: Workspace) -> dict[str, Any]:
    return {"id": ws.team_id, "domain": ws.team_domain}


def _user(ws: Workspace, user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id}


def _channel(channel: ChannelState) -> dict[str, Any]:
    # Slack names every DM "directmessage" in interaction payloads.
    return {"id": channel.id, "name": "directmessage" if channel.is_im else channel.name}


def slash_command(
    ws: Workspace,
    user: User,
    channel: ChannelState,
    *,
    command: str,
    text: str,
    trigger_id: str,
    response_url: str,
) -> dict[str, str]:
    """Form fields of a slash command POST (platform-facts C.3)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": ws.team_id,
        "team_domain": ws.team_domain,
        "channel_id": channel.id,
        "channel_name": "directmessage" if channel.is_im else channel.name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": ws.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def block_actions_in_message(
    ws: Workspace,
    user: User,
    channel: ChannelState,
    *,
    message: Message | None,
    ephemeral: Ephemeral | None,
    action: dict[str, Any],
    trigger_id: str,
    response_url: str,
    bot_name: str,
) -> dict[str, Any]:
    """A click in a channel message, or in an ephemeral one (which carries no `message`)."""
    source = message or ephemeral
    if source is None:
        raise ValueError("a message click needs the message or the ephemeral message")
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": source.ts,
        "channel_id": channel.id,
        "is_ephemeral": ephemeral is not None,
    }
    thread_ts = source.thread_ts
    if thread_ts and thread_ts != source.ts:
        container["thread_ts"] = thread_ts
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id,
        "team": _team(ws),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": _channel(channel),
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if message is not None:
        payload["message"] = message.to_api(bot_name)
    return payload


def block_actions_in_view(
    ws: Workspace, user: User, view: dict[str, Any], *, action: dict[str, Any], trigger_id: str
) -> dict[str, Any]:
    """A click inside a modal: the container is the view, and there is no response_url."""
    return {
        "type": "block_actions",
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": trigger_id,
        "team": _team(ws),
        "enterprise": None,
        "is_enterprise_install": False,
        "view": copy.deepcopy(view),
        "actions": [action],
    }


def view_submission(
    ws: Workspace, user: User, view: dict[str, Any], *, trigger_id: str
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": _team(ws),
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": copy.deepcopy(view),
        "response_urls": [],
        "enterprise": None,
        "is_enterprise_install": False,
    }


def view_closed(ws: Workspace, user: User, closed: OpenView, *, is_cleared: bool) -> dict[str, Any]:
    return {
        "type": "view_closed",
        "team": _team(ws),
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": VERIFICATION_TOKEN,
        "view": copy.deepcopy(closed.view),
        "is_cleared": is_cleared,
        "enterprise": None,
        "is_enterprise_install": False,
    }


def app_home_opened(
    ws: Workspace, user: User, dm: ChannelState, *, tab: str, view: dict[str, Any] | None
) -> dict[str, Any]:
    """The Events API envelope of `app_home_opened` (Slack's event reference; bolt-python's
    scenario tests show the envelope): `view` only once a Home has been published."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user.id,
        "channel": dm.id,
        "tab": tab,
        "event_ts": action_ts(),
    }
    if view is not None and tab == "home":
        event["view"] = copy.deepcopy(view)
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": ws.team_id,
        "api_app_id": ws.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team_id,
                "user_id": ws.bot.id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
