"""Scheduled Lambda: post cards lost notices missed, sync missed outcomes, remind approvers."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bot.logs import handler_logger
from bot.wiring import Services, services_from_env

logger = handler_logger()


@cache
def services() -> Services:
    return services_from_env()[0]


def reconcilers(wired: Services) -> dict[str, Callable[[], dict[str, int]]]:
    """Each reconciler by the prefix of its counts in the summary."""
    return {
        # Cards lost notices missed, cards whose outcome event was missed, reminders.
        "": wired.approvals.reconcile,
        # Flow levels still shown as waiting: a lost event must not leave a task token hanging.
        "flow_": wired.flows.reconcile,
        # Finished access-key requests whose outcome event was lost: the requester's DM.
        "key_": wired.key_requests.reconcile,
    }


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    counts: dict[str, int] = {"failed_reconcilers": 0}
    for prefix, reconcile in reconcilers(services()).items():
        try:
            counts.update({f"{prefix}{k}": v for k, v in reconcile().items()})
        except Exception:
            # One failing (Slack or a table down) must not keep the others from their repairs.
            logger.exception("reconciler failed", extra={"reconciler": prefix or "approvals"})
            counts["failed_reconcilers"] += 1
    logger.info("reconciled", extra=counts)
    return counts
