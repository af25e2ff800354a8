"""`SlackEmulator`: the Web API, the control API and the page, wired into one Flask app."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, redirect
from werkzeug.exceptions import InternalServerError

from sandbox.slack.control import build_blueprint
from sandbox.slack.interactions import Interactions
from sandbox.slack.limits import ChannelRateLimiter, FaultQueue
from sandbox.slack.outbound import ACK_TIMEOUT_SECONDS, BotEndpoint
from sandbox.slack.server import BackgroundServer
from sandbox.slack.socket_mode import SocketModeHub
from sandbox.slack.state import EmulatorState
from sandbox.slack.webapi import WebApi
from sandbox.slack.workspace import Workspace, demo_workspace

STATIC = Path(__file__).parent / "static"
TRIGGER_TTL_SECONDS = 3.0  # Slack: "Pass a valid trigger_id within 3 seconds of receiving it"
# The installed app's app-level token: `signoff dev` opens Socket Mode connections with it.
APP_TOKEN = "xapp-1-A0SIGNOFF-sandbox-not-a-real-token"


class SlackEmulator:
    """A local Slack for one app: give it the app's Request URL and secrets, point the bot at it.

    `serve()` blocks (for `make sandbox`); `start()`/`stop()` (or `with`) run it in a thread for
    tests. The same operations as the control API are available as methods.
    """

    def __init__(
        self,
        *,
        bot_url: str | None = None,
        signing_secret: str,
        bot_token: str,
        app_token: str = APP_TOKEN,
        workspace: Workspace | None = None,
        post_message_rate_limit: float | None = None,
        rate_limit_burst: int = 1,
        ack_timeout_seconds: float = ACK_TIMEOUT_SECONDS,
        trigger_ttl_seconds: float = TRIGGER_TTL_SECONDS,
        public_url: str | None = None,
    ) -> None:
        self.workspace = workspace or demo_workspace()
        self.state = EmulatorState(self.workspace)
        self.limiter = ChannelRateLimiter(post_message_rate_limit, rate_limit_burst)
        self.faults = FaultQueue()
        # Socket Mode: an app holding `app_token` may dial in (apps.connections.open).
        self.socket_mode = SocketModeHub(app_id=self.workspace.app_id)
        self.bot = BotEndpoint(bot_url, signing_secret, ack_timeout_seconds, self.socket_mode)
        self.trigger_ttl_seconds = trigger_ttl_seconds
        self.app_token = app_token
        self._public_url = public_url
        self.closing = False
        self.web_api = WebApi(
            self.state,
            bot_token=bot_token,
            app_token=app_token,
            socket_url=self.socket_mode.open_url,
            limiter=self.limiter,
            faults=self.faults,
            trigger_ttl=lambda: self.trigger_ttl_seconds,
            public_url=lambda: self.url,
        )
        self._defaults = self.config()
        self.interactions = Interactions(self.state, self.bot, lambda: self.url)
        self.app = self._build_app()
        self._server: BackgroundServer | None = None

    # -- running -----------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
        app.json.sort_keys = False  # type: ignore[attr-defined]
        app.register_blueprint(self.web_api.blueprint())
        app.register_blueprint(build_blueprint(self))

        @app.errorhandler(InternalServerError)
        def crashed(exc: InternalServerError) -> tuple[Response, int]:
            # Flask has logged the traceback; the caller gets JSON it can show, like every answer.
            cause = exc.original_exception or exc
            body = {"ok": False, "error": "emulator_error", "detail": repr(cause)}
            return jsonify(body), 500

        @app.get("/")
        def index() -> Response:
            # The first state rides in the page, so it draws on load (and in a plain
            # `chromium --screenshot`) before the long poll starts. "<" is escaped so no
            # message text can close the script element.
            data = json.dumps(self.snapshot()).replace("<", "\\u003c")
            html = (STATIC / "index.html").read_text(encoding="utf-8")
            html = html.replace("{{INITIAL_STATE}}", data)
            response = Response(html, mimetype="text/html")
            response.headers["Cache-Control"] = "no-store"
            return response

        @app.get("/archives/<channel>/<p_ts>")
        def permalink(channel: str, p_ts: str) -> Any:
            # chat.getPermalink hands these out; open the page on that message.
            digits = p_ts.lstrip("p")
            return redirect(f"/#channel={channel}&ts={digits[:-6]}.{digits[-6:]}")

        return app

    @property
    def url(self) -> str:
        """Where the bot reaches the emulator (response_urls, permalinks)."""
        if self._public_url:
            return self._public_url.rstrip("/")
        if self._server is not None:
            return self._server.url
        return "http://127.0.0.1:3000"

    @property
    def api_url(self) -> str:
        """`base_url` for `slack_sdk.WebClient` (note the trailing slash it expects)."""
        return f"{self.url}/api/"

    def serve(self, host: str = "127.0.0.1", port: int = 3000, *, quiet: bool = True) -> None:
        """Serve in the foreground until interrupted."""
        server = BackgroundServer(self.app, host, port, quiet=quiet)
        self._server = server
        server.start()
        self.socket_mode.start(host)
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a background thread; port 0 picks a free port. Returns the base URL."""
        self.closing = False
        self._server = BackgroundServer(self.app, host, port)
        url = self._server.start()
        self.socket_mode.start(host)
        return url

    def stop(self) -> None:
        self.closing = True
        with self.state.lock:
            self.state.touch_locked()  # release long polls so the server can shut down
        self.socket_mode.stop()
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> SlackEmulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- settings ----------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {
            "bot_url": self.bot.url,
            "post_message_rate_limit": self.limiter.per_second,
            "rate_limit_burst": self.limiter.burst,
            "ack_timeout_seconds": self.bot.timeout,
            "trigger_ttl_seconds": self.trigger_ttl_seconds,
            "scopes": list(self.web_api.scopes),
            "socket_mode_connections": self.socket_mode.connected,
        }

    def configure(self, **settings: Any) -> None:
        """Change settings at run time; keys as in `config()`."""
        if "bot_url" in settings:
            self.bot.url = settings["bot_url"] or None
        if "post_message_rate_limit" in settings or "rate_limit_burst" in settings:
            rate = settings.get("post_message_rate_limit", self.limiter.per_second)
            burst = int(settings.get("rate_limit_burst", self.limiter.burst))
            self.limiter.configure(float(rate) if rate is not None else None, burst)
        if "ack_timeout_seconds" in settings:
            self.bot.timeout = float(settings["ack_timeout_seconds"])
        if "trigger_ttl_seconds" in settings:
            self.trigger_ttl_seconds = float(settings["trigger_ttl_seconds"])
        if "scopes" in settings:
            self.web_api.scopes = tuple(str(s) for s in settings["scopes"])

    def reset(self) -> None:
        """Back to an empty workspace and the construction-time settings (the bot_url stays)."""
        self.faults.clear()
        self.configure(**{k: v for k, v in self._defaults.items() if k != "bot_url"})
        self.state.reset()

    # -- acting (the control API's operations, for Python callers) ----------------------------

    def command(
        self, user: str, channel: str | None, command: str, text: str = ""
    ) -> dict[str, Any]:
        return self.interactions.command(user, channel, command, text)

    def click(self, user: str, action_id: str, **where: Any) -> dict[str, Any]:
        """`where`: channel + ts (a message), or view_id (the top modal); block_id, value."""
        channel = where.pop("channel", None)
        return self.interactions.click(user, action_id, channel_ref=channel, **where)

    def submit(
        self, user: str, view_id: str | None = None, values: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return self.interactions.submit(user, view_id, values)

    def close(self, user: str, view_id: str | None = None) -> dict[str, Any]:
        return self.interactions.close(user, view_id)

    def open_home(self, user: str, tab: str = "home") -> dict[str, Any]:
        return self.interactions.open_home(user, tab)

    # -- looking -----------------------------------------------------------------------------

    def messages(self, channel: str) -> list[dict[str, Any]]:
        with self.state.lock:
            found = self.state.channel_locked(channel)
            if found is None:
                raise KeyError(channel)
            return self.state.messages_json(found)

    def ephemeral(self, user: str) -> list[dict[str, Any]]:
        member = self.interactions.member(user)
        with self.state.lock:
            return [e.to_json() for e in self.state.ephemerals if e.user == member.id]

    def views(self, user: str) -> list[dict[str, Any]]:
        return self.state.views_json(self.interactions.member(user).id)

    def home(self, user: str) -> dict[str, Any] | None:
        """The person's Home tab as last published, or None."""
        return self.state.home_json(self.interactions.member(user).id)

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        with self.state.lock:
            return [c.to_json() for c in self.state.calls if method in (None, c.method)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until `predicate()` (checked after every change) holds; False on timeout."""
        return self.state.wait_until(predicate, timeout)

    def snapshot(self, message_limit: int = 300) -> dict[str, Any]:
        """Everything the page draws, in one consistent read."""
        state = self.state
        ws = self.workspace
        with state.lock:
            channels = []
            for channel in state.channels.values():
                messages = state.messages_json(channel)[-message_limit:]
                channels.append(
                    {
                        "id": channel.id,
                        "name": channel.name,
                        "is_im": channel.is_im,
                        "is_private": channel.is_private,
                        "user": channel.user,
                        "topic": channel.topic,
                        "messages": messages,
                    }
                )
            ephemeral: dict[str, list[dict[str, Any]]] = {}
            for e in state.ephemerals:
                ephemeral.setdefault(e.user, []).append(e.to_json())
            return {
                "ok": True,
                "version": state.version,
                "team": {"id": ws.team_id, "name": ws.team_name, "domain": ws.team_domain},
                "bot": {"id": ws.bot.id, "name": ws.bot.name, "real_name": ws.bot.real_name},
                "users": [
                    {"id": u.id, "name": u.name, "real_name": u.real_name, "email": u.email}
                    for u in ws.users
                ],
                "channels": channels,
                "ephemeral": ephemeral,
                "views": {uid: [v.to_json() for v in stack] for uid, stack in state.views.items()},
                "homes": {uid: copy.deepcopy(view) for uid, view in state.homes.items()},
            }
