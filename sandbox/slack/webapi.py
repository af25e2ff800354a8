"""Slack's Web API (`/api/<method>`) and response_url webhooks, as a stock slack_sdk sees them.

Requests may be form-encoded, JSON or query strings; the token comes from `Authorization: Bearer`
or the `token` field. Errors are HTTP 200 with `{"ok": false, "error": ...}` except rate limits
(429 + Retry-After) and injected server faults, exactly the cases slack_sdk's retry handlers key on.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox.slack.blocks import (
    MESSAGE_BLOCK_LIMIT,
    MESSAGE_TEXT_LIMIT,
    validate_blocks,
    validate_view,
)
from sandbox.slack.limits import ChannelRateLimiter, Fault, FaultQueue
from sandbox.slack.state import (
    RESPONSE_URL_TTL,
    RESPONSE_URL_USES,
    ChannelState,
    EmulatorState,
    Message,
    OpenView,
    Trigger,
)
from sandbox.slack.workspace import User

MAX_VIEW_STACK = 3  # Slack: "You can only push 3 views onto the stack"
# views.publish: "view_too_large - Error returned if the provided view is greater than 250kb."
MAX_HOME_VIEW_BYTES = 250 * 1024


class ApiError(Exception):
    """A Slack error answer; `extra` adds fields like `response_metadata`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class Params:
    """One call's arguments, whichever of query, form or JSON they came in."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else str(value)

    def flag(self, key: str) -> bool:
        value = self.data.get(key)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)

    def number(self, key: str, default: int) -> int:
        try:
            return int(self.data.get(key, default))
        except (TypeError, ValueError):
            raise ApiError("invalid_arguments") from None

    def parsed(self, key: str, error: str) -> Any:
        """A structured argument: already parsed in a JSON body, a JSON string in a form body."""
        value = self.data.get(key)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(error, errors=[f"{key} is not valid JSON"]) from None
        return value


def _fault_headers(fault: Fault) -> dict[str, str]:
    return {"Retry-After": str(fault.retry_after or 1)} if fault.status == 429 else {}


def ensure_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give blocks and elements the ids Slack generates when the app leaves them out.

    Slack fills `block_id` (and `action_id`) so every click payload can name its source; the
    emulator must do the same or bots see `None` where production sends a string.
    """
    blocks = copy.deepcopy(blocks)
    for block in blocks:
        block.setdefault("block_id", secrets.token_urlsafe(3))
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                elements.append(block[key])
        for element in elements:
            if isinstance(element, dict) and element.get("type") not in ("image", None):
                element.setdefault("action_id", secrets.token_urlsafe(3))
    return blocks


def blocks_arg(params: Params, *, required: bool = False) -> list[dict[str, Any]] | None:
    blocks = params.parsed("blocks", "invalid_blocks")
    if blocks is None:
        if required:
            raise ApiError("invalid_blocks", errors=["blocks is required"])
        return None
    problems = validate_blocks(blocks, limit=MESSAGE_BLOCK_LIMIT, pointer="/blocks")
    if problems:
        raise ApiError("invalid_blocks", errors=problems, response_metadata={"messages": problems})
    return ensure_ids(blocks)


def text_arg(params: Params) -> str | None:
    text = params.text("text")
    if text is not None and len(text) > MESSAGE_TEXT_LIMIT:
        raise ApiError("msg_too_long")
    return text


Handler = Callable[["WebApi", Params], dict[str, Any]]
APP_TOKEN_METHOD = "apps.connections.open"
METHODS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        METHODS[name] = fn
        return fn

    return register


# The bot scopes the installed app was granted: infra/slack-manifest.yaml's (a test keeps them
# equal). Slack names them in every token-authenticated answer's X-OAuth-Scopes header.
BOT_SCOPES = ("channels:history", "chat:write", "commands", "groups:history", "im:write")


class WebApi:
    """Dispatches one Web API call: auth, faults, rate limit, the method, then the calls log."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        bot_token: str,
        limiter: ChannelRateLimiter,
        faults: FaultQueue,
        trigger_ttl: Callable[[], float],
        public_url: Callable[[], str],
        app_token: str | None = None,
        socket_url: Callable[[], str] | None = None,
    ) -> None:
        self.state = state
        self.bot_token = bot_token
        self.app_token = app_token
        self.socket_url = socket_url
        self.limiter = limiter
        self.faults = faults
        self.trigger_ttl = trigger_ttl
        self.public_url = public_url
        self.scopes: tuple[str, ...] = BOT_SCOPES

    # -- dispatch ----------------------------------------------------------------------------

    def call(
        self, name: str, data: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        params = {k: v for k, v in data.items() if k != "token"}
        with self.state.call_in_flight():
            status, body, headers = self._dispatch(name, Params(params), token)
            self.state.log_call(name, params, status, body)
        if token and token == self.bot_token:
            headers = {**headers, "X-OAuth-Scopes": ",".join(self.scopes)}
        return status, body, headers

    def _dispatch(
        self, name: str, params: Params, token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        # An app-level token opens Socket Mode connections and nothing else; a bot token cannot.
        app_token = bool(self.app_token) and token == self.app_token
        if (name == APP_TOKEN_METHOD) != app_token and token in (self.bot_token, self.app_token):
            return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
        if token != self.bot_token and not app_token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = METHODS.get(name)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        fault = self.faults.take(name)
        if fault is not None:
            if fault.delay_seconds:
                # A slow Slack: the call still happens afterwards, as a timed-out one may have.
                time.sleep(fault.delay_seconds)
            if (fault.status != 200 or fault.error) and not fault.after_processing:
                return fault.status, fault.body, _fault_headers(fault)
        status, body, headers = self._carry_out(name, handler, params)
        if fault is not None and fault.after_processing and (fault.status != 200 or fault.error):
            return fault.status, fault.body, _fault_headers(fault)
        return status, body, headers

    def _carry_out(
        self, name: str, handler: Handler, params: Params
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if name == "chat.postMessage":
            retry_after = self._post_rate_limit(params)
            if retry_after is not None:
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(retry_after)},
                )
        try:
            with self.state.lock:
                body = handler(self, params)
        except ApiError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}, {}
        return 200, {"ok": True, **body}, {}

    def _post_rate_limit(self, params: Params) -> int | None:
        with self.state.lock:
            channel = self.state.channel_locked(params.text("channel"))
        return None if channel is None else self.limiter.acquire(channel.id)

    # -- helpers shared by methods -----------------------------------------------------------

    def channel(self, params: Params, key: str = "channel") -> ChannelState:
        channel = self.state.channel_locked(params.text(key))
        if channel is None:
            raise ApiError("channel_not_found")
        return channel

    def bot_channel(self, params: Params, key: str = "channel") -> ChannelState:
        """A channel the bot may post in and read: it must exist and the bot must be in it.

        Slack answers `not_in_channel` for a public channel the bot was not invited to, and
        `channel_not_found` for a private one (the bot cannot know it exists).
        """
        channel = self.channel(params, key)
        if not channel.bot_member:
            raise ApiError("channel_not_found" if channel.is_private else "not_in_channel")
        return channel

    def user(self, params: Params, key: str = "user") -> User:
        # The Web API takes ids only; names are a control-API convenience.
        user = self.state.users.get(params.text(key) or "")
        if user is None:
            raise ApiError("user_not_found")
        return user

    def message(self, channel: ChannelState, ts: str | None) -> Message:
        message = channel.by_ts.get(ts or "")
        if message is None:
            raise ApiError("message_not_found")
        return message

    def view_arg(self, params: Params) -> dict[str, Any]:
        view = params.parsed("view", "invalid_arguments")
        view_errors, block_errors = validate_view(view)
        if view_errors:
            raise ApiError(
                "invalid_arguments", response_metadata={"messages": view_errors + block_errors}
            )
        if block_errors:
            raise ApiError(
                "invalid_blocks", errors=block_errors, response_metadata={"messages": block_errors}
            )
        view = dict(view)
        view["blocks"] = ensure_ids(view.get("blocks") or [])
        return view

    def exchange_trigger(self, params: Params) -> Trigger:
        """The trigger behind views.open/push, checked as Slack does: known, fresh, unused."""
        trigger = self.state.triggers.get(params.text("trigger_id") or "")
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.view_id is not None:
            raise ApiError("exchanged_trigger_id")
        if self.state.now() - trigger.issued_at > self.trigger_ttl():
            raise ApiError("expired_trigger_id")
        return trigger

    def permalink(self, channel: ChannelState, message: Message) -> str:
        link = f"{self.public_url()}/archives/{channel.id}/p{message.ts.replace('.', '')}"
        if message.is_reply:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return link

    # -- response_url ------------------------------------------------------------------------

    def respond(self, target_id: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A POST to a response_url: a new message, or a change to the message it came from."""
        status, body = self._respond(target_id, payload)
        self.state.log_call("response_url", payload, status, body)
        return status, body

    def _respond(self, target_id: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.state
        with state.lock:
            target = state.response_targets.get(target_id)
            if target is None:
                return 404, {"ok": False, "error": "no_service"}
            if state.now() - target.issued_at > RESPONSE_URL_TTL:
                return 404, {"ok": False, "error": "expired_url"}
            if target.uses >= RESPONSE_URL_USES:
                return 404, {"ok": False, "error": "used_url"}
            params = Params(payload)
            try:
                text = text_arg(params)
                blocks = blocks_arg(params)
            except ApiError as exc:
                return 400, {"ok": False, "error": exc.error, **exc.extra}
            target.uses += 1
            user = state.users[target.user]
            channel = state.channels[target.channel]
            if params.flag("delete_original") or params.flag("replace_original"):
                if target.message_ts is None:
                    return 404, {"ok": False, "error": "message_not_found"}
                replace = params.flag("replace_original") and not params.flag("delete_original")
                return self._change_original(
                    target.message_ts,
                    target.is_ephemeral,
                    user,
                    channel,
                    text,
                    blocks,
                    replace=replace,
                )
            if text is None and not blocks:
                return 400, {"ok": False, "error": "no_text"}
            thread_ts = params.text("thread_ts")
            if params.text("response_type") == "in_channel":
                parent = state.thread_parent_locked(channel, thread_ts) if thread_ts else None
                state.post_locked(channel, state.bot, text or "", blocks or [], parent=parent)
            else:
                state.add_ephemeral_locked(
                    user,
                    channel,
                    text or "",
                    blocks or [],
                    sender=state.bot.id,
                    thread_ts=thread_ts,
                )
            return 200, {"ok": True}

    def _change_original(
        self,
        ts: str,
        is_ephemeral: bool,
        user: User,
        channel: ChannelState,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        *,
        replace: bool,
    ) -> tuple[int, dict[str, Any]]:
        state = self.state
        if is_ephemeral:
            eph = state.ephemeral_locked(user.id, channel.id, ts)
            if eph is None:
                return 404, {"ok": False, "error": "message_not_found"}
            if replace:
                eph.text = text if text is not None else eph.text
                eph.blocks = blocks if blocks is not None else []
            else:
                state.ephemerals.remove(eph)
            state.touch_locked()
            return 200, {"ok": True}
        message = channel.by_ts.get(ts)
        if message is None:
            return 404, {"ok": False, "error": "message_not_found"}
        if not replace:
            state.delete_locked(channel, message)
            return 200, {"ok": True}
        message.text = text if text is not None else message.text
        message.blocks = blocks if blocks is not None else []
        message.edited = {"user": state.bot.id, "ts": state.ts_clock.next()}
        state.touch_locked()
        return 200, {"ok": True}

    # -- Flask -------------------------------------------------------------------------------

    def blueprint(self) -> Blueprint:
        bp = Blueprint("slack_web_api", __name__)

        @bp.route("/api/<name>", methods=["GET", "POST"])
        def api(name: str) -> Response:
            data: dict[str, Any] = dict(request.args.items())
            data.update(request.form.items())
            if request.is_json:
                body = request.get_json(silent=True)
                if isinstance(body, dict):
                    data.update(body)
            token = data.get("token")
            auth = request.headers.get("Authorization", "")
            if auth.lower().startswith("bearer "):
                token = auth[7:].strip()
            status, body, headers = self.call(name, data, token)
            response = jsonify(body)
            response.status_code = status
            response.headers.update(headers)
            return response

        @bp.route("/_emulator/respond/<target_id>", methods=["POST"])
        def respond(target_id: str) -> Response:
            payload = request.get_json(silent=True)
            if payload is None and "payload" in request.form:
                payload = json.loads(request.form["payload"])
            if not isinstance(payload, dict):
                payload = dict(request.form.items())
            status, body = self.respond(target_id, payload)
            response = jsonify(body)
            response.status_code = status
            return response

        return bp


# -- methods ---------------------------------------------------------------------------------


@method("api.test")
def api_test(api: WebApi, p: Params) -> dict[str, Any]:
    return {"args": p.data}


@method(APP_TOKEN_METHOD)
def apps_connections_open(api: WebApi, p: Params) -> dict[str, Any]:
    if api.socket_url is None:
        raise ApiError("not_allowed_token_type")
    return {"url": api.socket_url()}


@method("auth.test")
def auth_test(api: WebApi, p: Params) -> dict[str, Any]:
    ws = api.state.workspace
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.bot.name,
        "team_id": ws.team_id,
        "user_id": ws.bot.id,
        "bot_id": ws.bot.bot_id,
        "is_enterprise_install": False,
    }


@method("chat.postMessage")
def chat_post_message(api: WebApi, p: Params) -> dict[str, Any]:
    state = api.state
    channel = api.bot_channel(p)
    text = text_arg(p)
    blocks = blocks_arg(p)
    if not text and not blocks and not p.data.get("attachments"):
        raise ApiError("no_text")
    metadata = p.parsed("metadata", "invalid_metadata_format")
    if metadata is not None and not (
        isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
    ):
        raise ApiError("invalid_metadata_format")
    thread_ts = p.text("thread_ts")
    # Slack posts to the channel itself when thread_ts names no message in it.
    parent = state.thread_parent_locked(channel, thread_ts) if thread_ts else None
    message = state.post_locked(
        channel,
        state.bot,
        text or "",
        blocks or [],
        parent=parent,
        broadcast=p.flag("reply_broadcast"),
        metadata=metadata,
    )
    return {"channel": channel.id, "ts": message.ts, "message": message.to_api(state.bot.real_name)}


@method("chat.update")
def chat_update(api: WebApi, p: Params) -> dict[str, Any]:
    state = api.state
    channel = api.channel(p)
    message = api.message(channel, p.text("ts"))
    if message.user != state.bot.id:
        raise ApiError("cant_update_message")
    text = text_arg(p)
    blocks = blocks_arg(p)
    if text is None and blocks is None:
        raise ApiError("no_text")
    if text is not None:
        message.text = text
    # Slack drops the old blocks when an update carries text only.
    message.blocks = blocks if blocks is not None else []
    metadata = p.parsed("metadata", "invalid_metadata_format")
    if isinstance(metadata, dict):
        message.metadata = metadata
    message.edited = {"user": state.bot.id, "ts": state.ts_clock.next()}
    state.touch_locked()
    return {
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": message.to_api(state.bot.real_name),
    }


@method("chat.delete")
def chat_delete(api: WebApi, p: Params) -> dict[str, Any]:
    channel = api.channel(p)
    message = api.message(channel, p.text("ts"))
    if message.user != api.state.bot.id:
        raise ApiError("cant_delete_message")
    api.state.delete_locked(channel, message)
    return {"channel": channel.id, "ts": message.ts}


@method("chat.postEphemeral")
def chat_post_ephemeral(api: WebApi, p: Params) -> dict[str, Any]:
    state = api.state
    channel = api.channel(p)
    user = api.user(p)
    if not state.is_member_locked(channel, user):
        raise ApiError("user_not_in_channel")
    text = text_arg(p)
    blocks = blocks_arg(p)
    if not text and not blocks:
        raise ApiError("no_text")
    eph = state.add_ephemeral_locked(
        user, channel, text or "", blocks or [], sender=state.bot.id, thread_ts=p.text("thread_ts")
    )
    return {"message_ts": eph.ts}


@method("chat.getPermalink")
def chat_get_permalink(api: WebApi, p: Params) -> dict[str, Any]:
    channel = api.channel(p)
    message = api.message(channel, p.text("message_ts"))
    return {"channel": channel.id, "permalink": api.permalink(channel, message)}


@method("conversations.open")
def conversations_open(api: WebApi, p: Params) -> dict[str, Any]:
    state = api.state
    if p.text("channel"):
        channel = api.channel(p)
        return {"channel": channel.to_api() if p.flag("return_im") else {"id": channel.id}}
    refs = [r.strip() for r in (p.text("users") or "").split(",") if r.strip()]
    if not refs:
        raise ApiError("users_list_not_supplied")
    if len(refs) > 1:
        # Group DMs (mpim) are outside what Signoff uses; say so instead of faking one.
        raise ApiError("not_supported", detail="the emulator opens one-to-one DMs only")
    user = state.users.get(refs[0])
    if user is None:
        raise ApiError("user_not_found")
    if user.is_bot:
        raise ApiError("cannot_dm_bot")
    channel = state.dm_locked(user)
    if p.flag("return_im"):
        return {"channel": channel.to_api()}
    return {"channel": {"id": channel.id}}


def _page(items: list[Any], p: Params, default_limit: int) -> tuple[list[Any], dict[str, Any]]:
    """Slack's cursor pagination; the cursor is an offset, opaque to the client all the same."""
    limit = max(1, min(p.number("limit", default_limit), 1000))
    cursor = p.text("cursor")
    start = int(cursor) if cursor and cursor.isdigit() else 0
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return chunk, {"next_cursor": str(start + limit) if more else ""}


def _ts_arg(p: Params, key: str, default: float) -> float:
    value = p.text(key)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ApiError("invalid_ts_" + key) from None


def _in_window(p: Params) -> Callable[[Message], bool]:
    """Slack's `oldest`/`latest` window (default: everything up to now), `inclusive` of both."""
    oldest = _ts_arg(p, "oldest", 0.0)
    latest = _ts_arg(p, "latest", float("inf"))
    inclusive = p.flag("inclusive")

    def within(message: Message) -> bool:
        ts = float(message.ts)
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    return within


def _messages(api: WebApi, p: Params, chunk: list[Message]) -> list[dict[str, Any]]:
    # Slack leaves message metadata out unless it is asked for.
    bot_name = api.state.bot.real_name
    shown = [m.to_api(bot_name) for m in chunk]
    if not p.flag("include_all_metadata"):
        for message in shown:
            message.pop("metadata", None)
    return shown


@method("conversations.history")
def conversations_history(api: WebApi, p: Params) -> dict[str, Any]:
    """Top-level messages (thread replies only when broadcast), newest first, paged."""
    channel = api.bot_channel(p)
    within = _in_window(p)
    newest_first = [m for m in reversed(channel.messages) if within(m)]
    chunk, meta = _page(newest_first, p, 100)
    return {
        "messages": _messages(api, p, chunk),
        "has_more": bool(meta["next_cursor"]),
        "pin_count": 0,
        "response_metadata": meta,
    }


@method("conversations.replies")
def conversations_replies(api: WebApi, p: Params) -> dict[str, Any]:
    """A thread, parent first, then its replies oldest first, paged."""
    channel = api.bot_channel(p)
    message = channel.by_ts.get(p.text("ts") or "")
    if message is None:
        raise ApiError("thread_not_found")
    parent = api.state.thread_parent_locked(channel, message.ts) or message
    within = _in_window(p)
    # The parent always leads the first page, whatever the window.
    thread = [parent, *(r for r in parent.replies if within(r))]
    chunk, meta = _page(thread, p, 1000)
    return {
        "messages": _messages(api, p, chunk),
        "has_more": bool(meta["next_cursor"]),
        "response_metadata": meta,
    }


@method("conversations.info")
def conversations_info(api: WebApi, p: Params) -> dict[str, Any]:
    return {"channel": api.channel(p).to_api()}


@method("conversations.list")
def conversations_list(api: WebApi, p: Params) -> dict[str, Any]:
    types = set((p.text("types") or "public_channel").split(","))
    channels = [
        c
        for c in api.state.channels.values()
        if (c.is_im and "im" in types)
        or (not c.is_im and c.is_private and "private_channel" in types)
        or (not c.is_im and not c.is_private and "public_channel" in types)
    ]
    chunk, meta = _page(channels, p, 100)
    return {"channels": [c.to_api() for c in chunk], "response_metadata": meta}


@method("users.info")
def users_info(api: WebApi, p: Params) -> dict[str, Any]:
    return {"user": api.user(p).to_api(api.state.workspace.team_id)}


@method("users.list")
def users_list(api: WebApi, p: Params) -> dict[str, Any]:
    team = api.state.workspace.team_id
    chunk, meta = _page(list(api.state.users.values()), p, 200)
    return {
        "members": [u.to_api(team) for u in chunk],
        "cache_ts": int(time.time()),
        "response_metadata": meta,
    }


@method("users.lookupByEmail")
def users_lookup_by_email(api: WebApi, p: Params) -> dict[str, Any]:
    user = api.state.user_by_email(p.text("email") or "")
    if user is None:
        raise ApiError("users_not_found")
    return {"user": user.to_api(api.state.workspace.team_id)}


@method("views.open")
def views_open(api: WebApi, p: Params) -> dict[str, Any]:
    state = api.state
    trigger = api.exchange_trigger(p)
    user = state.users[trigger.user]
    view = api.view_arg(p)
    full = state.build_view_locked(user.id, view)
    trigger.view_id = full["id"]
    # A new modal replaces whatever stack the user had, as opening from a message does.
    state.views[user.id] = [OpenView(user.id, full)]
    state.touch_locked()
    return {"view": copy.deepcopy(full)}


@method("views.push")
def views_push(api: WebApi, p: Params) -> dict[str, Any]:
    state = api.state
    trigger = api.exchange_trigger(p)
    user = state.users[trigger.user]
    view = api.view_arg(p)
    stack = state.stack_locked(user.id)
    if len(stack) >= MAX_VIEW_STACK:
        raise ApiError("push_limit_reached")
    root = stack[0].id if stack else None
    previous = stack[-1].id if stack else None
    full = state.build_view_locked(user.id, view, root_view_id=root, previous_view_id=previous)
    trigger.view_id = full["id"]
    stack.append(OpenView(user.id, full))
    state.touch_locked()
    return {"view": copy.deepcopy(full)}


@method("views.update")
def views_update(api: WebApi, p: Params) -> dict[str, Any]:
    state = api.state
    view_id, external_id = p.text("view_id"), p.text("external_id")
    if not view_id and not external_id:
        raise ApiError("invalid_arguments", detail="view_id or external_id is required")
    current = state.find_view_locked(view_id=view_id, external_id=external_id)
    if current is None:
        raise ApiError("not_found")
    expected = p.text("hash")
    if expected is not None and expected != current.view.get("hash"):
        raise ApiError("hash_conflict")
    view = api.view_arg(p)
    current.view = state.build_view_locked(
        current.user,
        view,
        view_id=current.id,
        root_view_id=current.view.get("root_view_id"),
        previous_view_id=current.view.get("previous_view_id"),
    )
    current.errors = {}
    state.touch_locked()
    return {"view": copy.deepcopy(current.view)}


@method("views.publish")
def views_publish(api: WebApi, p: Params) -> dict[str, Any]:
    """A person's Home tab, replaced whole; checked as Slack does: a real user, a `home` view
    (a modal is published nowhere), at most 250 kB, and `hash` (if given) the current one."""
    state = api.state
    if not p.text("user_id"):
        raise ApiError("invalid_arguments", detail="user_id is required")
    user = api.user(p, "user_id")
    given = p.data.get("view")
    raw = given if isinstance(given, str) else json.dumps(given)
    if len(raw.encode()) > MAX_HOME_VIEW_BYTES:
        raise ApiError("view_too_large")
    view = api.view_arg(p)
    if view.get("type") != "home":
        raise ApiError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] must be home [json-pointer:/view/type]"]},
        )
    current = state.homes.get(user.id)
    expected = p.text("hash")
    if expected is not None and (current is None or expected != current.get("hash")):
        raise ApiError("hash_conflict")
    # The Home keeps its view id from one publish to the next, as Slack's does.
    full = state.build_view_locked(
        user.id, view, view_id=current["id"] if current is not None else None
    )
    state.homes[user.id] = full
    state.touch_locked()
    return {"view": copy.deepcopy(full)}
