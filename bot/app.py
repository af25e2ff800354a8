"""The Bolt app: one function that registers every listener; the same app on Lambda and locally."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot.gateways.slack_client import tls_context
from bot.listeners import access_keys as access_key_listeners
from bot.listeners import approvals as approval_listeners
from bot.listeners import home as home_listeners
from bot.slack_edge import once_per_request, pinned_workspace
from bot.wiring import Services

logger = logging.getLogger(__name__)


def create_app(
    services: Services,
    *,
    signing_secret: str,
    bot_token: str,
    process_before_response: bool,
) -> App:
    """Build the Bolt app.

    Bolt's own client answers inside the 3-second ack (views.open), so it has no retry handler
    that sleeps on 429s; the services' client (with them) does the slow work in lazy listeners.
    On Lambda `process_before_response` is True: Bolt acks, starts lazy listeners, then returns.
    """

    def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        # One workspace, one bot token. Bolt's default for a token calls auth.test on the first
        # request of every cold start: a Slack round trip inside the 3-second ack, for the bot's
        # own user id, which only matters to apps that receive message events (Signoff has none).
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=bot_token
        )

    app = App(
        # Named: unnamed, Bolt calls inspect.stack() to name it, reading every frame's source.
        name="signoff",
        # Without the token (authorize gives it to each request's client), or Bolt warns that
        # the token is ignored because authorize is set.
        client=WebClient(
            base_url=services.settings.slack_api_url,
            ssl=tls_context(services.settings.slack_api_url),
        ),
        authorize=authorize,
        signing_secret=signing_secret,
        process_before_response=process_before_response,
    )
    # Global middleware runs after Bolt's own (signature, authorization), on every request,
    # the lazy passes of a listener included: first the workspace (no AWS call for a stranger),
    # then the replay record.
    settings = services.settings
    app.use(pinned_workspace(settings.require_workspace(), settings.slack_app_id))
    app.use(once_per_request(services.slack_requests))
    approval_listeners.register(app, services.approvals, services.slack)
    access_key_listeners.register(app, services.key_requests)
    home_listeners.register(app, services.home, services.approvals, services.slack)

    @app.error
    def on_unexpected_error(error: Exception, body: dict[str, Any]) -> None:
        logger.exception(
            "unhandled error in a listener",
            exc_info=error,
            extra={"type": body.get("type"), "user": (body.get("user") or {}).get("id")},
        )

    return app
