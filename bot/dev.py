"""`signoff dev`: the same Bolt app as the Slack function, over Socket Mode, from this machine.

The way to try Signoff against a real workspace before deploying it: Slack sends the app's
commands and clicks down a WebSocket this process opens (an app-level `xapp-` token with the
`connections:write` scope, infra/slack-manifest-socket.yaml), so no public Request URL is needed.
AWS is whatever the environment configures (the tables, the documents), as for the CLI.

What differs from Lambda is only the transport: Bolt's SocketModeHandler (slack_sdk's built-in
client, no extra dependency) instead of the Function URL, and lazy listeners run on Bolt's
default thread runner (threads of this process) instead of re-invoking the function.
"""

from __future__ import annotations

import argparse
import logging
import threading
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.errors import ConfigError

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.gateways.session import ClientSource

logger = logging.getLogger(__name__)

APP_TOKEN_PREFIX = "xapp-"  # noqa: S105 (a prefix, not a token)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "dev",
        help="run the Slack app over Socket Mode (a real workspace, no public URL)",
        description=(
            "Connect the Slack app to Slack over Socket Mode and serve it from this machine "
            "until Ctrl-C. Needs SLACK_APP_TOKEN (an app-level xapp- token with "
            "connections:write), SLACK_BOT_TOKEN (or SLACK_SECRET_ARN), and the same AWS "
            "settings as the other commands, SIGNOFF_SLACK_TEAM_ID included (docs/deploy.md, Try "
            "it over Socket Mode)."
        ),
    )
    parser.set_defaults(run=_run)


def socket_mode_handler(settings: Settings, session: ClientSource) -> SocketModeHandler:
    """The Bolt app wired as on Lambda, behind Bolt's Socket Mode handler (not yet connected)."""
    # Imported here: every other `signoff` command would pay ~80 ms for Bolt and the services.
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import create_app
    from bot.gateways.slack_client import web_client
    from bot.wiring import build_services, slack_credentials

    app_token = settings.slack_app_token
    if not app_token:
        raise ConfigError(
            "SLACK_APP_TOKEN is not set: create an app-level token with the connections:write "
            "scope (Slack app settings → Basic Information → App-Level Tokens)."
        )
    if not app_token.startswith(APP_TOKEN_PREFIX):
        raise ConfigError(
            "SLACK_APP_TOKEN must be an app-level token (xapp-…), not a bot or user token."
        )
    if settings.slack_bot_token:
        bot_token = settings.slack_bot_token
    elif settings.slack_secret_arn:
        bot_token = slack_credentials(settings, session).bot_token
    else:
        raise ConfigError(
            "No bot token: set SLACK_BOT_TOKEN (xoxb-…), or SLACK_SECRET_ARN to read it from "
            "the deployed stack's Slack secret."
        )
    services = build_services(settings, session, web_client(bot_token, settings.slack_api_url))
    app = create_app(
        services,
        # Socket Mode requests are not signed (Bolt skips verifying them): the WebSocket, opened
        # with the app-level token, is what authenticates Slack to the app.
        signing_secret=settings.slack_signing_secret or "",
        bot_token=bot_token,
        # As on Lambda: the ack listener runs to its end (the modal is open) before the ack goes
        # back down the socket; lazy listeners run on Bolt's thread runner, in this process.
        process_before_response=True,
    )
    return SocketModeHandler(app, app_token)


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # The app's and slack_sdk's lines (connected, reconnecting, what a listener did), not
    # botocore's one per client ("Found endpoint for dynamodb via: environment_global").
    logging.getLogger("botocore").setLevel(logging.WARNING)
    from bot.gateways.session import LambdaSession

    settings = Settings.from_env()
    # The functions' own session (trimmed models, the usual credential chain) as on Lambda.
    handler = socket_mode_handler(settings, LambdaSession(settings.region))
    # Through the typed slack_sdk client: Bolt's handler methods are untyped wrappers of these.
    client = handler.client
    try:
        client.connect()
        print(
            "signoff dev: connected to Slack over Socket Mode; try /request-key or an approval "
            "card's buttons in your workspace. Ctrl-C stops.",
            flush=True,
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    return 0
