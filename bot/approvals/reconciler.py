"""The approvals reconciler: post cards lost notices missed, sync cards whose events were
missed, remind approvers before an approval times out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot import views
from bot.approvals.cards import CardService
from bot.approvals.people import undecided_mentions
from bot.approvals.thread import reply_in_thread
from bot.concurrency import together
from bot.errors import ServiceError
from bot.gateways.automation import Automation
from bot.gateways.slack import Slack
from bot.gateways.tables import ApprovalStore, AuditLog, CardItem, IdentityStore

logger = logging.getLogger(__name__)


class Reconciler:
    """What SNS and EventBridge may have lost, found again on a schedule."""

    def __init__(
        self,
        *,
        automation: Automation,
        store: ApprovalStore,
        identities: IdentityStore,
        audit: AuditLog,
        slack: Slack,
        cards: CardService,
        now: Callable[[], datetime],
        reminder_before: timedelta,
    ) -> None:
        self._automation = automation
        self._store = store
        self._identities = identities
        self._audit = audit
        self._slack = slack
        self._cards = cards
        self._now = now
        self._reminder_before = reminder_before

    def reconcile(self) -> dict[str, int]:
        """Post cards that lost notices missed, sync cards whose events were missed, remind."""
        now = self._now()
        counts = {"posted": 0, "synced": 0, "reminded": 0}
        # Both reads at once. A card posted below is for an execution in `waiting`, which the
        # second loop skips, so reading the open cards first misses nothing it would act on.
        # A failed read of them is raised only after the missing cards are posted.
        waiting, open_cards = together(
            lambda: set(self._automation.waiting_execution_ids()), self._open_cards_or_error
        )
        # The open cards by execution: a waiting execution that has one needs no read of its
        # own (only one without, or every one when the index could not be read).
        known: dict[str, dict[str, CardItem]] = {}
        for card in [] if isinstance(open_cards, ServiceError) else open_cards:
            known.setdefault(card.execution_id, {})[card.step_name] = card
        for execution_id in sorted(waiting):
            try:
                counts[self._reconcile_one(execution_id, now, known.get(execution_id))] += 1
            except ServiceError:
                logger.exception("reconcile failed", extra={"execution_id": execution_id})
        if isinstance(open_cards, ServiceError):
            raise open_cards
        for card in open_cards:
            if card.execution_id not in waiting:
                try:
                    self._cards.refresh(card.execution_id, card.step_name)
                    counts["synced"] += 1
                except ServiceError:
                    logger.exception("sync failed", extra={"execution_id": card.execution_id})
        return counts

    def _open_cards_or_error(self) -> list[CardItem] | ServiceError:
        try:
            return list(self._store.open_cards())
        except ServiceError as failed:
            return failed

    def _reconcile_one(
        self, execution_id: str, now: datetime, open_cards: Mapping[str, CardItem] | None
    ) -> str:
        """One waiting execution: post its missing card, or remind its approvers when due.

        `open_cards`: the execution's cards in the Open index, by step. None (the index has
        none, or could not be read): its cards are read from the table, which has them all,
        including a card written a moment ago that the index does not show yet.
        """
        if open_cards is None:
            # The execution's cards beside its approval: the step that waits is only known
            # from SSM, and reading every card (there are few) saves waiting for that answer.
            approval, cards = together(
                lambda: self._automation.get_approval(execution_id),
                lambda: self._store.cards(execution_id),
            )
            card = next((c for c in cards if c.step_name == approval.step_name), None)
        else:
            approval = self._automation.get_approval(execution_id)
            card = open_cards.get(approval.step_name)
            if card is None:
                # The step that waits is not the one the index shows open (one just closed,
                # the next one's card not indexed yet): the table says.
                card = self._store.card(execution_id, approval.step_name)
        if card is None or card.ref is None:
            # No card, or a claim without one: announce looks for a post that went unanswered
            # (or whose poster died) before it posts again.
            posted = self._cards.announce(execution_id, approval.step_name, known=approval)
            return "posted" if posted else "synced"
        if not approval.outcome.is_open or approval.timeout_at is None:
            return "synced"
        if approval.timeout_at - now > self._reminder_before:
            return "synced"
        reminder = self._store.reminder_claim(execution_id, approval.step_name)
        if not self._store.claims.take(reminder):
            return "synced"
        mentions = undecided_mentions(self._identities, approval)
        reply_in_thread(self._slack, card, reminder, views.reminder_text(approval, mentions))
        self._audit.append(execution_id, "reminder", step=approval.step_name)
        return "reminded"
