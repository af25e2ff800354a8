"""Lambda behind Slack's request URL (a Function URL): the Bolt app via Bolt's Lambda adapter."""

from __future__ import annotations

import gc

_collecting = gc.isenabled()
gc.disable()  # until the module is set up (handlers/__init__.py says why)

from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bot.app import create_app
from bot.config import Settings
from bot.gateways.session import LambdaSession
from bot.lambda_adapter import VerifiedRequestHandler
from bot.logs import handler_logger
from bot.wiring import services_from_env

logger = handler_logger()


@cache
def slack_handler() -> VerifiedRequestHandler:
    """Built once per cold start; lazy listeners re-invoke this same function asynchronously."""
    session = LambdaSession(Settings.from_env().region)
    services, slack_credentials = services_from_env(session)
    credentials = slack_credentials()  # every request is verified with the signing secret
    app = create_app(
        services,
        signing_secret=credentials.signing_secret,
        bot_token=credentials.bot_token,
        process_before_response=True,
    )
    # Bolt's lazy listener runner takes the Lambda client to self-invoke with.
    return VerifiedRequestHandler(
        app, credentials.signing_secret, lambda_client=session.client("lambda")
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return slack_handler().handle(event, context)


# Set up: what the imports made is frozen out of the collector's sight, which resumes.
gc.freeze()
if _collecting:
    gc.enable()
