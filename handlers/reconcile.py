"""Scheduled Lambda: post cards lost notices missed, sync missed outcomes, remind approvers."""

from __future__ import annotations

import gc

_collecting = gc.isenabled()
gc.disable()  # until the module is set up (handlers/__init__.py says why)

from collections.abc import Callable
from functools import cache, partial
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bot.concurrency import together
from bot.logs import handler_logger
from bot.wiring import Services, services_from_env

logger = handler_logger()


@cache
def services() -> Services:
    # The Slack secret is read on first need, not in the background: most passes find nothing
    # to post, update or remind, and make no Slack call at all.
    # Its "now" is the clock URL's when one is set: the sandbox's, which tests move forward.
    return services_from_env(follow_clock=True)[0]


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
    # The sweeps are independent and mostly wait on AWS and Slack: side by side, the pass takes
    # as long as the longest.
    found = together(*(partial(sweep, p, r) for p, r in reconcilers(services()).items()))
    counts: dict[str, int] = {"failed_reconcilers": found.count(None)}
    for sweep_counts in found:
        counts.update(sweep_counts or {})
    logger.info("reconciled", extra=counts)
    return counts


def sweep(prefix: str, reconcile: Callable[[], dict[str, int]]) -> dict[str, int] | None:
    """One reconciler's counts under its prefix; None when it failed (logged): one failing (Slack
    or a table down) must not keep the others from their repairs."""
    try:
        return {f"{prefix}{k}": v for k, v in reconcile().items()}
    except Exception:
        logger.exception("reconciler failed", extra={"reconciler": prefix or "approvals"})
        return None


# Set up: what the imports made is frozen out of the collector's sight, which resumes.
gc.freeze()
if _collecting:
    gc.enable()
