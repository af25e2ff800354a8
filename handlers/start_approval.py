"""Lambda the child state machine invokes (lambda:invoke.waitForTaskToken): start one level."""

from __future__ import annotations

import gc

_collecting = gc.isenabled()
gc.disable()  # until the module is set up (handlers/__init__.py says why)

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bot.errors import InvalidPayload
from bot.flows.payload import StartApprovalRequest
from bot.logs import handler_logger
from bot.wiring import Services, services_from_env

logger = handler_logger()


@cache
def services() -> Services:
    return services_from_env()[0]


# The event carries the task token: never log it, whatever POWERTOOLS_LOGGER_LOG_EVENT says.
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = StartApprovalRequest.from_event(event)
    except InvalidPayload as invalid:
        # Fails the task with Signoff.InvalidInput naming the field; the invocation succeeds.
        return services().flows.refuse_payload(event, invalid)
    return services().flows.start(request)


# Set up: what the imports made is frozen out of the collector's sight, which resumes.
gc.freeze()
if _collecting:
    gc.enable()
