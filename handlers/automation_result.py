"""Lambda for SSM's EventBridge status changes: keep cards, threads and audit true to SSM."""

from __future__ import annotations

import gc

_collecting = gc.isenabled()
gc.disable()  # until the module is set up (handlers/__init__.py says why)

from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bot.errors import InvalidPayload
from bot.events import AutomationStatusEvent
from bot.logs import handler_logger
from bot.wiring import Services, services_from_env

logger = handler_logger()


@cache
def services() -> Services:
    return services_from_env(prefetch_slack=True)[0]


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    try:
        status = AutomationStatusEvent.from_event(event)
    except InvalidPayload as unreadable:
        # Not an SSM status event Signoff can act on: a retry would read it no better.
        logger.warning("unreadable SSM status event; ignored", extra={"problems": str(unreadable)})
        return {"result": "ignored", "reason": str(unreadable)}
    return services().results.handle(status)


# Set up: what the imports made is frozen out of the collector's sight, which resumes.
gc.freeze()
if _collecting:
    gc.enable()
