"""The emulator's control API: how tests, scripts and the web page act as people and look around.

This is a public contract (DESIGN §3). All bodies and answers are JSON. Users may be named by
name ("alice") or id ("U0ALICE"); channels by name ("approvals", "#approvals"), id ("C0APPROVALS",
"D0DAVE") or "@dave" for the bot's DM with dave. Errors in the request itself answer 4xx with
`{"ok": false, "error": "...", "detail": "..."}`; what the *bot* answered is never an HTTP error
here, it is reported in the body.

Reading
  GET  /_emulator/messages?channel=C        {"ok", "channel": id, "messages": [msg…]} oldest first;
                                            msg = Slack's message object (ts, user, text, blocks,
                                            thread_ts, reply_count, edited, bot_id…) + "replies":
                                            [msg…] (thread replies, same shape; broadcasts appear
                                            in both places)
  GET  /_emulator/ephemeral?user=U[&channel=C]  {"ok", "ephemeral": [{user, channel, ts, text,
                                            blocks, sender, thread_ts}]} oldest first
  GET  /_emulator/views?user=U              {"ok", "views": [{id, callback_id, external_id, title,
                                            submit, close, blocks, private_metadata, hash, errors:
                                            {block_id: message}, alert, view: <full view>}]}
                                            bottom of the stack first; the last one is on screen
  GET  /_emulator/home?user=U               {"ok", "user": id, "home": <the Home tab's view as
                                            the app last published it (views.publish): id,
                                            type "home", blocks, hash…> or null if never}
  GET  /_emulator/calls[?method=M&since=N]  {"ok", "calls": [{seq, time, method, params, status,
                                            response}]} every Web API and response_url call
                                            (method "response_url"); the token is not recorded
  GET  /_emulator/interactions[?since=N]    {"ok", "interactions": [{seq, time, kind, user,
                                            payload, status, body, elapsed_ms, error}]}: what was
                                            sent to the bot and what it answered
  GET  /_emulator/state[?since=V&wait=S]    everything the page draws (users, channels with
                                            messages, ephemerals and views per user); with since,
                                            long-polls up to S seconds (≤ 30) for version > V
  GET  /_emulator/wait?…&timeout=S          blocks until every condition given holds, S ≤ 60
                                            (default 5): since=V (version > V); method=M&count=N
                                            (≥ N calls of M logged); channel=C&count=N (≥ N
                                            top-level messages); channel=C&thread=TS&count=N (≥ N
                                            replies); in_flight=N (≤ N Web API calls still being
                                            carried out, one held by a delay fault included:
                                            in_flight=0 is "the slow call has landed"); quiet=Q
                                            (nothing changed for Q seconds — "the bot's lazy work
                                            is done"). Answers {"ok": true|false, "timed_out",
                                            "version"} with HTTP 200 either way.

Acting (each answers {"ok": true, "status": <bot's HTTP status or null>, "body": <parsed ack>,
"elapsed_ms", "error": null|"dispatch_failed"|"operation_timeout", "version", …} plus what the ack
caused; "version" can be passed to /wait?since= to wait for lazy work)
  POST /_emulator/command  {"user", "channel", "command": "/x", "text"}
                           + trigger_id, response_url, ephemeral (ack shown to the user, or
                           Slack's "failed with the error" note), message (in_channel ack),
                           view (a modal opened with this trigger during the ack)
  POST /_emulator/click    {"user", "channel", "ts", "action_id"[, "block_id", "value"]} a button
                           (or select: value = option value) in a message or ephemeral message;
                           {"user", "view_id", "action_id"[, "values"]} inside the top modal
                           + trigger_id, action (the `actions[0]` sent), view (modal opened)
  POST /_emulator/home     {"user"[, "tab": "home"|"messages"]} the person opens the app's
                           Home: the bot is sent a signed `app_home_opened` event (JSON, as the
                           Events API sends it) + home (the view now; the bot publishes lazily:
                           /wait?method=views.publish&count=N). Buttons on the Home are clicked
                           with /click {"user", "view_id": <home id>, "action_id", "block_id"}
  POST /_emulator/submit   {"user", "view_id"?, "values": {block_id: {action_id: value}}}
                           value is a string, an option value, a user/channel name or id, or a
                           list for multi-selects; untouched inputs keep their initial value.
                           + sent (false when Slack's client would refuse: empty required input,
                           length limits), errors {block_id: msg} (client-side or the bot's
                           response_action errors), response_action, closed, view (top view now)
  POST /_emulator/close    {"user", "view_id"?} + closed: [ids], sent (view_closed only when
                           the view has notify_on_close)
  POST /_emulator/post     {"user", "channel", "text"[, "thread_ts"]} a person's message
                           (the bot is not told: the Events API is not emulated)
  POST /_emulator/dismiss  {"user", "channel", "ts"} hide an ephemeral message

Steering
  POST   /_emulator/faults {"method": "chat.update" | "*", "status": 429|500|…, "count": 2,
                           "retry_after": 1} or {"method", "error": "fatal_error"} (HTTP 200
                           error) or {"method", "delay_seconds": 5}; consumed one per call;
                           "after_processing": true does the call, then answers the failure
  GET    /_emulator/faults  pending faults;  DELETE /_emulator/faults  clears them
  GET|POST /_emulator/config {"bot_url", "post_message_rate_limit": 1 | null (msgs/s/channel),
                           "rate_limit_burst", "ack_timeout_seconds", "trigger_ttl_seconds",
                           "scopes": the bot token's granted scopes (X-OAuth-Scopes)}
  POST   /_emulator/reset   forget messages, ephemerals, modals, logs, faults; config back to
                           construction values except bot_url, which stays
  GET    /_emulator/health  {"ok": true}

Slack-facing (for the bot, not for tests): /api/<method> (the Web API, see webapi.py),
/_emulator/respond/<id> (the response_urls handed out in payloads), /archives/<C>/p<ts>
(chat.getPermalink links, open the page on that message), / (the page). An emulator bug answers
500 {"ok": false, "error": "emulator_error", "detail"} rather than an HTML page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request

from sandbox.slack.interactions import ControlError
from sandbox.slack.limits import Fault

if TYPE_CHECKING:
    from sandbox.slack.emulator import SlackEmulator

MAX_WAIT = 60.0
MAX_LONG_POLL = 30.0
PAGE_MESSAGE_LIMIT = 300  # the page shows the latest; /messages always returns all


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ControlError(400, "invalid_json", "send a JSON object")
    return body


def _required(body: dict[str, Any], key: str) -> Any:
    value = body.get(key)
    if value in (None, ""):
        raise ControlError(400, f"{key}_required", f"{key} is required")
    return value


def _float_arg(name: str, default: float, cap: float) -> float:
    try:
        return max(0.0, min(float(request.args.get(name, default)), cap))
    except ValueError:
        raise ControlError(400, "invalid_arguments", f"{name} must be a number") from None


def build_blueprint(emu: SlackEmulator) -> Blueprint:
    """Routes are thin: parse, call the emulator's Python API, answer JSON."""
    bp = Blueprint("slack_emulator_control", __name__, url_prefix="/_emulator")
    state = emu.state

    @bp.errorhandler(ControlError)
    def control_error(exc: ControlError) -> tuple[Response, int]:
        return jsonify({"ok": False, "error": exc.error, "detail": exc.detail}), exc.status

    @bp.errorhandler(ValueError)
    def value_error(exc: ValueError) -> tuple[Response, int]:
        return jsonify({"ok": False, "error": "invalid_arguments", "detail": str(exc)}), 400

    @bp.get("/health")
    def health() -> Response:
        return jsonify({"ok": True})

    # -- reading -------------------------------------------------------------------------------

    @bp.get("/messages")
    def messages() -> Response:
        ref = request.args.get("channel")
        with state.lock:
            channel = state.channel_locked(ref)
            if channel is None:
                raise ControlError(404, "channel_not_found", f"no channel {ref!r}")
            return jsonify(
                {"ok": True, "channel": channel.id, "messages": state.messages_json(channel)}
            )

    @bp.get("/ephemeral")
    def ephemeral() -> Response:
        user = emu.interactions.member(request.args.get("user"))
        channel_ref = request.args.get("channel")
        with state.lock:
            channel = state.channel_locked(channel_ref) if channel_ref else None
            items = [
                e.to_json()
                for e in state.ephemerals
                if e.user == user.id and (channel is None or e.channel == channel.id)
            ]
        return jsonify({"ok": True, "ephemeral": items})

    @bp.get("/views")
    def views() -> Response:
        user = emu.interactions.member(request.args.get("user"))
        return jsonify({"ok": True, "views": state.views_json(user.id)})

    @bp.get("/home")
    def home() -> Response:
        user = emu.interactions.member(request.args.get("user"))
        return jsonify({"ok": True, "user": user.id, "home": state.home_json(user.id)})

    @bp.post("/home")
    def open_home() -> Response:
        body = _json_body()
        return jsonify(
            emu.interactions.open_home(_required(body, "user"), str(body.get("tab") or "home"))
        )

    @bp.get("/calls")
    def calls() -> Response:
        method = request.args.get("method")
        since = int(request.args.get("since", 0))
        with state.lock:
            items = [
                c.to_json() for c in state.calls if c.seq > since and method in (None, c.method)
            ]
            return jsonify({"ok": True, "calls": items})

    @bp.get("/interactions")
    def interactions() -> Response:
        since = int(request.args.get("since", 0))
        with state.lock:
            items = [i.to_json() for i in state.interactions if i.seq > since]
            return jsonify({"ok": True, "interactions": items})

    @bp.get("/state")
    def page_state() -> Response:
        since = request.args.get("since")
        if since is not None:
            wait = _float_arg("wait", 25.0, MAX_LONG_POLL)
            floor = int(since)
            state.wait_until(lambda: state.version > floor or emu.closing, wait)
        return jsonify(emu.snapshot(PAGE_MESSAGE_LIMIT))

    @bp.get("/wait")
    def wait() -> Response:
        timeout = _float_arg("timeout", 5.0, MAX_WAIT)
        deadline = time.monotonic() + timeout
        condition = _wait_condition(emu)
        met = state.wait_until(condition, timeout)
        quiet = request.args.get("quiet")
        if met and quiet is not None:
            met = _wait_quiet(emu, float(quiet), deadline)
        return jsonify({"ok": met, "timed_out": not met, "version": state.version})

    # -- acting --------------------------------------------------------------------------------

    @bp.post("/command")
    def command() -> Response:
        body = _json_body()
        return jsonify(
            emu.interactions.command(
                _required(body, "user"),
                body.get("channel"),
                str(_required(body, "command")),
                str(body.get("text", "")),
            )
        )

    @bp.post("/click")
    def click() -> Response:
        body = _json_body()
        return jsonify(
            emu.interactions.click(
                _required(body, "user"),
                str(_required(body, "action_id")),
                channel_ref=body.get("channel"),
                ts=body.get("ts"),
                view_id=body.get("view_id"),
                block_id=body.get("block_id"),
                value=body.get("value"),
                values=body.get("values"),
            )
        )

    @bp.post("/submit")
    def submit() -> Response:
        body = _json_body()
        return jsonify(
            emu.interactions.submit(
                _required(body, "user"), body.get("view_id"), body.get("values") or {}
            )
        )

    @bp.post("/close")
    def close() -> Response:
        body = _json_body()
        return jsonify(emu.interactions.close(_required(body, "user"), body.get("view_id")))

    @bp.post("/post")
    def post() -> Response:
        body = _json_body()
        return jsonify(
            emu.interactions.post(
                _required(body, "user"),
                body.get("channel"),
                str(_required(body, "text")),
                body.get("thread_ts"),
            )
        )

    @bp.post("/dismiss")
    def dismiss() -> Response:
        body = _json_body()
        return jsonify(
            emu.interactions.dismiss(
                _required(body, "user"), body.get("channel"), str(_required(body, "ts"))
            )
        )

    # -- steering ------------------------------------------------------------------------------

    @bp.route("/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> Response:
        if request.method == "POST":
            emu.faults.add(Fault.from_json(_json_body()))
        elif request.method == "DELETE":
            emu.faults.clear()
        return jsonify({"ok": True, "faults": emu.faults.pending()})

    @bp.route("/config", methods=["GET", "POST"])
    def config() -> Response:
        if request.method == "POST":
            emu.configure(**_config_args(_json_body()))
        return jsonify({"ok": True, **emu.config()})

    @bp.post("/reset")
    def reset() -> Response:
        emu.reset()
        return jsonify({"ok": True, "version": state.version})

    return bp


_CONFIG_KEYS = frozenset(
    {
        "bot_url",
        "post_message_rate_limit",
        "rate_limit_burst",
        "ack_timeout_seconds",
        "trigger_ttl_seconds",
        "scopes",
    }
)


def _config_args(body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - _CONFIG_KEYS
    if unknown:
        raise ControlError(
            400, "unknown_setting", f"{sorted(unknown)}; known: {sorted(_CONFIG_KEYS)}"
        )
    return body


def _wait_condition(emu: SlackEmulator) -> Callable[[], bool]:
    """AND of the conditions in the query string, evaluated under the state lock."""
    state = emu.state
    args = request.args
    checks: list[Callable[[], bool]] = []
    if "since" in args:
        floor = int(args["since"])
        checks.append(lambda: state.version > floor)
    count = int(args.get("count", 1))
    if "method" in args:
        method = args["method"]
        checks.append(lambda: sum(1 for c in state.calls if c.method == method) >= count)
    if "channel" in args:
        ref, thread = args["channel"], args.get("thread")

        def channel_has() -> bool:
            channel = state.channel_locked(ref)
            if channel is None:
                return False
            if thread:
                parent = channel.by_ts.get(thread)
                return parent is not None and len(parent.replies) >= count
            return len(channel.messages) >= count

        checks.append(channel_has)
    if "in_flight" in args:
        at_most = int(args["in_flight"])
        checks.append(lambda: state.in_flight <= at_most)
    return lambda: all(check() for check in checks)


def _wait_quiet(emu: SlackEmulator, quiet: float, deadline: float) -> bool:
    state = emu.state
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        seen = state.version
        changed = state.wait_until(_version_moved(emu, seen), min(quiet, remaining))
        if not changed:
            return quiet <= remaining


def _version_moved(emu: SlackEmulator, seen: int) -> Callable[[], bool]:
    return lambda: emu.state.version != seen
