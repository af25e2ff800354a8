"""The Bolt app: one function that registers every listener; the same app on Lambda and locally."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.listeners import access_keys as access_key_listeners
from bot.listeners import approvals as approval_listeners
from bot.wiring import Services

logger = logging.getLogger(__name__)


def create_app(
    services: Services,
    *,
    signing_secret: str,
    client: WebClient,
    process_before_response: bool,
) -> App:
    """Build the Bolt app.

    `client` answers inside the 3-second ack (views.open), so it must not sleep on 429s;
    the services' own client (with retry handlers) does the slow work in lazy listeners.
    On Lambda `process_before_response` is True: Bolt acks, starts lazy listeners, then returns.
    """
    app = App(
        # Named: unnamed, Bolt calls inspect.stack() to name it, reading every frame's source.
        name="signoff",
        client=client,
        signing_secret=signing_secret,
        process_before_response=process_before_response,
        # No auth.test at construction: a cold start would pay a network round trip for it.
        token_verification_enabled=False,
    )
    approval_listeners.register(app, services.approvals, services.slack)
    access_key_listeners.register(app, services.key_requests)

    @app.error
    def on_unexpected_error(error: Exception, body: dict[str, Any]) -> None:
        logger.exception(
            "unhandled error in a listener",
            exc_info=error,
            extra={"type": body.get("type"), "user": (body.get("user") or {}).get("id")},
        )

    return app
