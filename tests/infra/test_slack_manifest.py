"""infra/slack-manifest.yaml: the shape Slack's manifest schema 1.0 accepts, and exactly the
scopes and command the bot uses; infra/slack-manifest-socket.yaml (`signoff dev`): the same app
over Socket Mode."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot import views
from bot.doctor import REQUIRED_BOT_SCOPES
from sandbox.slack.webapi import BOT_SCOPES

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "infra" / "slack-manifest.yaml"
SOCKET_MANIFEST = ROOT / "infra" / "slack-manifest-socket.yaml"

# The parts of slackapi/manifest-schema (manifest.schema.1.0.0.json) this manifest uses, with
# their limits: names ≤35, descriptions ≤140, long_description 175-4000, commands 2-32 chars
# starting with "/", command description 1-2000, usage_hint ≤1000, URLs ≤3000/3500.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["display_information"],
    "additionalProperties": False,
    "properties": {
        "_metadata": {
            "type": "object",
            "properties": {
                "major_version": {"type": "integer"},
                "minor_version": {"type": "integer"},
            },
        },
        "display_information": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 35},
                "description": {"type": "string", "maxLength": 140},
                "background_color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
                "long_description": {"type": "string", "minLength": 175, "maxLength": 4000},
            },
        },
        "features": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "app_home": {"type": "object"},
                "bot_user": {
                    "type": "object",
                    "required": ["display_name"],
                    "properties": {
                        "display_name": {"type": "string", "minLength": 1, "maxLength": 80},
                        "always_online": {"type": "boolean"},
                    },
                },
                "slash_commands": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 50,
                    "items": {
                        "type": "object",
                        "required": ["command", "description"],
                        "additionalProperties": False,
                        "properties": {
                            "command": {
                                "type": "string",
                                "pattern": "^/",
                                "minLength": 2,
                                "maxLength": 32,
                            },
                            "url": {"type": "string", "maxLength": 3000},
                            "description": {"type": "string", "minLength": 1, "maxLength": 2000},
                            "usage_hint": {"type": "string", "maxLength": 1000},
                            "should_escape": {"type": "boolean"},
                        },
                    },
                },
            },
        },
        "oauth_config": {
            "type": "object",
            "properties": {
                "scopes": {
                    "type": "object",
                    "properties": {"bot": {"type": "array", "items": {"type": "string"}}},
                },
            },
        },
        "settings": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "event_subscriptions": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "request_url": {"type": "string", "maxLength": 3000},
                        "bot_events": {
                            "type": "array",
                            "maxItems": 100,
                            "items": {"type": "string"},
                        },
                        "user_events": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "interactivity": {
                    "type": "object",
                    "required": ["is_enabled"],
                    "properties": {
                        "is_enabled": {"type": "boolean"},
                        "request_url": {"type": "string", "maxLength": 3500},
                    },
                },
                "org_deploy_enabled": {"type": "boolean"},
                "socket_mode_enabled": {"type": "boolean"},
                "token_rotation_enabled": {"type": "boolean"},
            },
        },
    },
}

# Web API method (as slack_sdk spells it) → the bot scopes it needs; None: no scope.
_HISTORY = ("channels:history", "groups:history")  # public and private channels
METHOD_SCOPES: dict[str, str | tuple[str, ...] | None] = {
    "chat_postMessage": "chat:write",
    "chat_getPermalink": None,
    "conversations_history": _HISTORY,
    "conversations_replies": _HISTORY,
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_delete": "chat:write",
    "conversations_open": "im:write",
    "views_open": None,
    "views_publish": None,
    "views_update": None,
    "views_push": None,
    "users_info": "users:read",
    "users_lookupByEmail": "users:read.email",
    "reactions_add": "reactions:write",
}
_EVENT = re.compile(r"\bapp\.event\(\"([a-z_]+)\"\)")
_METHOD = re.compile(r"\b(chat|conversations|views|users|reactions)_[A-Za-z]+\b")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return loaded


def methods_called_by_the_bot() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        found.update(m.group(0) for m in _METHOD.finditer(path.read_text(encoding="utf-8")))
    return found


def test_the_manifest_has_the_shape_slacks_schema_accepts(manifest: dict[str, Any]) -> None:
    jsonschema.validate(manifest, SCHEMA)


def test_the_bot_asks_for_exactly_the_scopes_its_calls_need(manifest: dict[str, Any]) -> None:
    called = methods_called_by_the_bot()
    unknown = called - set(METHOD_SCOPES)
    needed: set[str] = set()
    for method in called:
        scopes = METHOD_SCOPES.get(method) or ()
        needed.update((scopes,) if isinstance(scopes, str) else scopes)
    if manifest["features"].get("slash_commands"):
        needed.add("commands")

    assert unknown == set(), f"add these Slack methods to METHOD_SCOPES: {unknown}"
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(needed)


def test_the_slash_command_is_the_one_the_bot_listens_to(manifest: dict[str, Any]) -> None:
    [command] = manifest["features"]["slash_commands"]

    assert command["command"] == views.COMMAND_REQUEST_KEY
    assert command["usage_hint"] == "<iam-user> <reason>"
    assert command["url"] == manifest["settings"]["interactivity"]["request_url"]


def test_requests_go_to_the_function_url_over_http_not_socket_mode(
    manifest: dict[str, Any],
) -> None:
    settings = manifest["settings"]

    assert settings["socket_mode_enabled"] is False
    assert settings["interactivity"] == {
        "is_enabled": True,
        "request_url": "https://<function-url>/",
    }
    # The one event Signoff reads (the Home tab), to the same Function URL as everything else.
    assert settings["event_subscriptions"] == {
        "request_url": "https://<function-url>/",
        "bot_events": ["app_home_opened"],
    }


def events_the_bot_listens_to() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        found.update(_EVENT.findall(path.read_text(encoding="utf-8")))
    return found


def test_the_home_tab_is_on_and_its_event_is_exactly_what_the_bot_listens_to(
    manifest: dict[str, Any], socket_manifest: dict[str, Any]
) -> None:
    for each in (manifest, socket_manifest):
        assert each["features"]["app_home"]["home_tab_enabled"] is True
        assert set(each["settings"]["event_subscriptions"]["bot_events"]) == (
            events_the_bot_listens_to()
        )
    assert events_the_bot_listens_to() == {"app_home_opened"}


def test_doctor_and_the_emulator_know_the_manifests_scopes(manifest: dict[str, Any]) -> None:
    granted = sorted(manifest["oauth_config"]["scopes"]["bot"])

    assert sorted(REQUIRED_BOT_SCOPES) == granted, "signoff doctor checks these"
    assert sorted(BOT_SCOPES) == granted, "the emulator's installed app has these"


@pytest.fixture(scope="module")
def socket_manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SOCKET_MANIFEST.read_text(encoding="utf-8"))
    return loaded


def test_the_socket_mode_manifest_has_the_shape_slacks_schema_accepts(
    socket_manifest: dict[str, Any],
) -> None:
    jsonschema.validate(socket_manifest, SCHEMA)


def test_the_socket_mode_manifest_turns_socket_mode_on_and_has_no_request_urls(
    socket_manifest: dict[str, Any],
) -> None:
    settings = socket_manifest["settings"]

    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"] == {"is_enabled": True}
    assert all("url" not in c for c in socket_manifest["features"]["slash_commands"])
    assert settings["event_subscriptions"] == {"bot_events": ["app_home_opened"]}


def test_the_socket_mode_manifest_is_the_same_app_otherwise(
    manifest: dict[str, Any], socket_manifest: dict[str, Any]
) -> None:
    """Everything but the transport (and a name that tells the two apart) stays in step."""
    http = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    http["display_information"]["name"] = socket_manifest["display_information"]["name"]
    for command in http["features"].get("slash_commands", []):
        command.pop("url", None)
    http["settings"]["interactivity"].pop("request_url", None)
    http["settings"]["event_subscriptions"].pop("request_url", None)
    http["settings"]["socket_mode_enabled"] = True

    assert socket_manifest == http
