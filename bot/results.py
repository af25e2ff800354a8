"""SSM status-change events: sync the card and thread of the execution they are about."""

from __future__ import annotations

import logging
from collections.abc import Collection

from bot.access_keys import KeyRequestService
from bot.approvals import ApprovalService
from bot.errors import ApprovalNotFound
from bot.events import AutomationStatusEvent
from bot.gateways.automation import APPROVE_ACTION
from bot.gateways.tables import ApprovalStore

logger = logging.getLogger(__name__)


class ResultService:
    """EventBridge is best-effort and at-least-once: every event just re-reads SSM and syncs.

    The rules route approval and execution events of every runbook in the account, most of
    which Signoff never posted a card for: those are dropped after one read of the approvals
    table (`store`), before any SSM or Slack call. Events of Signoff's own documents
    (`own_documents`) always sync: a flow level or a key request is Signoff's before its card.
    """

    def __init__(
        self,
        approvals: ApprovalService,
        key_requests: KeyRequestService | None = None,
        *,
        store: ApprovalStore | None = None,
        own_documents: Collection[str] = (),
    ) -> None:
        self._approvals = approvals
        self._key_requests = key_requests
        self._store = store
        self._own_documents = frozenset(own_documents)

    def handle(self, event: AutomationStatusEvent) -> dict[str, str]:
        if self._not_ours(event):
            logger.debug(
                "no card for this execution: event dropped",
                extra={
                    "execution_id": event.detail.execution_id,
                    "definition": event.detail.definition,
                    "status": event.detail.status,
                },
            )
            return {"result": "ignored", "reason": "no card for this execution"}
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

    def _not_ours(self, event: AutomationStatusEvent) -> bool:
        detail = event.detail
        # An event without a Definition may be about Signoff's own runbooks: never dropped.
        if self._store is None or not detail.definition or detail.definition in self._own_documents:
            return False
        if event.is_step_event and detail.action != APPROVE_ACTION:
            return False  # ignored below, without a read
        # Any card of the execution counts: a second aws:approve step gets its card from the
        # event of that step (its own notice may come later, or never).
        return not self._store.cards(detail.execution_id)

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
