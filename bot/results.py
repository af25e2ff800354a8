"""SSM status-change events: sync the card and thread of the execution they are about."""

from __future__ import annotations

import logging

from bot.access_keys import KeyRequestService
from bot.approvals import ApprovalService
from bot.errors import ApprovalNotFound
from bot.events import AutomationStatusEvent

logger = logging.getLogger(__name__)

APPROVE_ACTION = "aws:approve"


class ResultService:
    """EventBridge is best-effort and at-least-once: every event just re-reads SSM and syncs."""

    def __init__(
        self, approvals: ApprovalService, key_requests: KeyRequestService | None = None
    ) -> None:
        self._approvals = approvals
        self._key_requests = key_requests

    def handle(self, event: AutomationStatusEvent) -> dict[str, str]:
        result = self._sync_approval(event)
        keys, detail = self._key_requests, event.detail
        if result["result"] == "ignored":
            # Every runbook's events may reach this function: say which were dropped, and why.
            logger.info(
                "status event ignored",
                extra={"execution_id": detail.execution_id, "reason": result["reason"]},
            )
        if keys is not None and keys.concerns(detail.definition):
            # After the card sync, so the thread tells the approval before the key's fate.
            outcome = keys.notify_outcome(detail.execution_id)
            if outcome is not None:
                result["access_key"] = outcome.kind.value
        return result

    def _sync_approval(self, event: AutomationStatusEvent) -> dict[str, str]:
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
