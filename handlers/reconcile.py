"""Scheduled Lambda: post cards lost notices missed, sync missed outcomes, remind approvers."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bot.logs import handler_logger
from bot.wiring import Services, services_from_env

logger = handler_logger()


@cache
def services() -> Services:
    return services_from_env()[0]


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    counts = services().approvals.reconcile()
    # Flow levels still shown as waiting: a lost event must not leave a task token hanging.
    counts.update({f"flow_{k}": v for k, v in services().flows.reconcile().items()})
    logger.info("reconciled", extra=counts)
    return counts
