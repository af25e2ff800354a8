"""SSM status-change events: sync the card and thread of the execution they are about."""

from __future__ import annotations

import logging

from bot.approvals import ApprovalService
from bot.errors import ApprovalNotFound
from bot.events import AutomationStatusEvent

logger = logging.getLogger(__name__)

APPROVE_ACTION = "aws:approve"


class ResultService:
    """EventBridge is best-effort and at-least-once: every event just re-reads SSM and syncs."""

    def __init__(self, approvals: ApprovalService) -> None:
        self._approvals = approvals

    def handle(self, event: AutomationStatusEvent) -> dict[str, str]:
        detail = event.detail
        if event.is_step_event and detail.action != APPROVE_ACTION:
            return {"result": "ignored", "reason": f"step action {detail.action}"}
        step = detail.step_name if event.is_step_event else None
        try:
            approval = self._approvals.refresh(detail.execution_id, step)
        except ApprovalNotFound:
            return {"result": "ignored", "reason": "no aws:approve step in this execution"}
        outcome = approval.outcome.value if approval else "unknown"
        logger.info(
            "synced approval",
            extra={
                "execution_id": detail.execution_id,
                "status": detail.status,
                "outcome": outcome,
            },
        )
        return {"result": "synced", "outcome": outcome}
