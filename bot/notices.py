"""SNS approval notices: find the execution id in whatever SSM (or a runbook author) sent."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

from bot.approvals import ApprovalService
from bot.errors import ApprovalNotFound
from bot.events import UUID
from bot.models import CardRef

logger = logging.getLogger(__name__)

# AWS documents no format for the notice `aws:approve` publishes, so accept a JSON key or any
# text that carries the id, e.g. the console approval URL .../automation/execution/<id>/approval.
_UUID = UUID
_JSON_KEYS = (
    "execution_id",
    "ExecutionId",
    "AutomationExecutionId",
    "executionId",
    "automation_id",
)
_URL = re.compile(rf"automation/execution/({_UUID})", re.IGNORECASE)
_NEAR_WORD = re.compile(rf"execution[^0-9a-f]{{0,40}}({_UUID})", re.IGNORECASE)
_ANY = re.compile(_UUID, re.IGNORECASE)


def extract_execution_id(message: str) -> str | None:
    """The automation execution id a notice is about, or None when it carries none."""
    try:
        data = json.loads(message)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in _JSON_KEYS:
            value = data.get(key)
            if isinstance(value, str) and _ANY.fullmatch(value.strip()):
                return value.strip().lower()
    for pattern in (_URL, _NEAR_WORD):
        match = pattern.search(message)
        if match:
            return match.group(1).lower()
    ids = {m.lower() for m in _ANY.findall(message)}
    # One UUID alone is the execution; several without context are ambiguous: leave it to the
    # reconciler rather than guess.
    return ids.pop() if len(ids) == 1 else None


class NoticeService:
    """Turns one SNS notice into at most one card; never raises for a notice it cannot use."""

    def __init__(
        self, approvals: ApprovalService, posted: Callable[[str], None] | None = None
    ) -> None:
        """`posted`: told the execution id once its card is in Slack (the Home tabs)."""
        self._approvals = approvals
        self._posted = posted

    def handle(self, message: str, message_id: str, topic_arn: str) -> CardRef | None:
        execution_id = extract_execution_id(message)
        if execution_id is None:
            # Raising would only make SNS retry the same unreadable text; the reconciler finds
            # the waiting execution through DescribeAutomationExecutions instead.
            logger.warning(
                "approval notice without an execution id; left to the reconciler",
                extra={"message_id": message_id, "topic_arn": topic_arn},
            )
            return None
        try:
            ref = self._approvals.announce(execution_id)
        except ApprovalNotFound:
            logger.warning(
                "approval notice for an unknown execution",
                extra={"message_id": message_id, "execution_id": execution_id},
            )
            return None
        if ref is not None and self._posted is not None:
            self._posted(execution_id)
        return ref
