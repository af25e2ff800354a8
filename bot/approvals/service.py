"""Flow A as one entry: the card, decision and reconciler services, composed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.approvals.cards import CardService, FlowHooks, Placement, Router
from bot.approvals.decisions import DecisionLines, DecisionService
from bot.approvals.reconciler import Reconciler
from bot.gateways.automation import ApproverSignals, Automation
from bot.gateways.pacing import Pacer
from bot.gateways.slack import Slack
from bot.gateways.tables import ApprovalStore, AuditLog, IdentityStore
from bot.models import Approval, CardRef, Verdict


class ApprovalService:
    """Flow A: SSM approval → Slack card → decision as the clicking human → card and thread.

    What the listeners, the notice and result handlers, the flows and the reconciler call;
    each call goes to the one service whose job it is (`cards`, `decisions`, `reconciler`).
    """

    def __init__(
        self,
        *,
        automation: Automation,
        signals: ApproverSignals,
        store: ApprovalStore,
        identities: IdentityStore,
        audit: AuditLog,
        slack: Slack,
        route: Router,
        now: Callable[[], datetime],
        reminder_before: timedelta,
        flows: FlowHooks | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        lines = DecisionLines(store=store, identities=identities, audit=audit, slack=slack)
        self.cards = CardService(
            automation=automation,
            store=store,
            identities=identities,
            audit=audit,
            slack=slack,
            route=route,
            now=now,
            lines=lines,
            flows=flows,
            pacer=pacer,
        )
        self.decisions = DecisionService(
            automation=automation,
            signals=signals,
            store=store,
            identities=identities,
            audit=audit,
            slack=slack,
            cards=self.cards,
        )
        self.reconciler = Reconciler(
            automation=automation,
            store=store,
            identities=identities,
            audit=audit,
            slack=slack,
            cards=self.cards,
            now=now,
            reminder_before=reminder_before,
        )

    def announce(
        self,
        execution_id: str,
        step_name: str | None = None,
        placement: Placement | None = None,
        *,
        known: Approval | None = None,
    ) -> CardRef | None:
        """Post the card for a waiting approval, once (`CardService.announce`)."""
        return self.cards.announce(execution_id, step_name, placement, known=known)

    def refresh(self, execution_id: str, step_name: str | None = None) -> Approval | None:
        """Bring the card and its thread in line with SSM (`CardService.refresh`)."""
        return self.cards.refresh(execution_id, step_name)

    def people(self, approval: Approval) -> dict[str, str]:
        """The approval's principals that are people by Signoff's mapping."""
        return self.cards.people(approval)

    def check(self, slack_user_id: str, execution_id: str, step_name: str | None) -> Approval:
        """The refusal a person would get if they decided now (`DecisionService.check`)."""
        return self.decisions.check(slack_user_id, execution_id, step_name)

    def decide(
        self,
        slack_user_id: str,
        execution_id: str,
        step_name: str | None,
        verdict: Verdict,
        comment: str,
    ) -> Approval:
        """Send one decision to SSM as the person's own principal (`DecisionService.decide`)."""
        return self.decisions.decide(slack_user_id, execution_id, step_name, verdict, comment)

    def reconcile(self) -> dict[str, int]:
        """Cards lost, syncs missed, reminders due (`Reconciler.reconcile`)."""
        return self.reconciler.reconcile()
