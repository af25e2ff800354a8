"""Decisions: check a click, authorize the person, send to SSM once, tell the thread."""

from __future__ import annotations

import logging
import shlex
from typing import Protocol

from bot import views
from bot.approvals.people import CHECK_IDENTITY_MAX_AGE, approval_people
from bot.approvals.thread import reply_in_thread
from bot.errors import (
    AlreadyDecided,
    ApprovalClosed,
    NotAnApprover,
    NotMapped,
    SelfApproval,
    ServiceError,
    SignoffError,
    TransientError,
)
from bot.gateways.automation import ApproverSignals, Automation
from bot.gateways.claims import once, release
from bot.gateways.slack import Slack
from bot.gateways.tables import ApprovalStore, AuditLog, CardItem, IdentityStore
from bot.models import Approval, Decision, Identity, Verdict, principal_matches

logger = logging.getLogger(__name__)


class CardSync(Protocol):
    """What a decision needs of the cards: bring one in line with SSM (CardService.refresh)."""

    def refresh(self, execution_id: str, step_name: str | None = None) -> Approval | None: ...


class DecisionLines:
    """The audit row and thread line of each decision, once, wherever it was made."""

    def __init__(
        self, *, store: ApprovalStore, identities: IdentityStore, audit: AuditLog, slack: Slack
    ) -> None:
        self._store = store
        self._identities = identities
        self._audit = audit
        self._slack = slack

    def tell(self, approval: Approval, card: CardItem, decision: Decision, via: str) -> None:
        """A decision SSM holds: its row and line, unless they were written already.

        A decision sent from Slack whose audit row could not be written is announced here too.
        """
        execution_id, step = approval.execution_id, approval.step_name
        claims = self._store.claims
        announced = self._store.announced_claim(execution_id, step, decision.principal)
        if not claims.take(announced):
            return
        from_slack = claims.held(self._store.decision_claim(execution_id, step, decision.principal))
        if from_slack:
            via = "Slack"
        try:
            self._audit.append(
                execution_id,
                "decision",
                step=step,
                principal=decision.principal,
                verdict=decision.verdict.value,
                comment=decision.comment,
                via="slack" if from_slack else "aws",
            )
        except ServiceError:
            release(claims, announced)  # the next sync tries again
            raise
        reply_in_thread(
            self._slack,
            card,
            announced,
            views.decision_text(
                decision.principal,
                decision.verdict,
                decision.comment,
                via=via,
                people=approval_people(self._identities, approval),
            ),
        )


class DecisionService:
    """A person's decision, as their own AWS principal: refused with a reason they can act on,
    or sent to SSM exactly once and told in the card's thread."""

    def __init__(
        self,
        *,
        automation: Automation,
        signals: ApproverSignals,
        store: ApprovalStore,
        identities: IdentityStore,
        audit: AuditLog,
        slack: Slack,
        cards: CardSync,
    ) -> None:
        self._automation = automation
        self._signals = signals
        self._store = store
        self._identities = identities
        self._audit = audit
        self._slack = slack
        self._cards = cards

    def check(self, slack_user_id: str, execution_id: str, step_name: str | None) -> Approval:
        """Raise the refusal a person would get if they decided now; the approval if none.

        Only a warning ahead of the decision, which reads the mapping afresh: a mapping read in
        the last minute will do (one table read less per click).
        """
        identity = self._identity(slack_user_id, max_age=CHECK_IDENTITY_MAX_AGE)
        approval = self._automation.get_approval(execution_id, step_name)
        self._authorize(identity, approval)
        return approval

    def decide(
        self,
        slack_user_id: str,
        execution_id: str,
        step_name: str | None,
        verdict: Verdict,
        comment: str,
    ) -> Approval:
        """Send one decision to SSM as the person's own principal, exactly once."""
        identity = self._identity(slack_user_id)
        approval = self._automation.get_approval(execution_id, step_name)
        principal = self._authorize(identity, approval)
        step = approval.step_name
        claims = self._store.claims
        announced = self._store.announced_claim(execution_id, step, principal)

        def send() -> None:
            try:
                # The announcement is claimed with the decision so an EventBridge sync racing
                # us does not also tell the thread about it (as "outside Slack").
                claims.take(announced)
                self._signals.send(identity, execution_id, verdict, comment)
            except (ApprovalClosed, TransientError):
                # SSM refuses a repeat of a signal it already took (botocore retries a 5xx or
                # a timeout whose request had landed), or no answer came at all (every retry
                # timed out, and one may have landed): when SSM has the decision, it stands.
                if not self._landed(execution_id, step, principal, verdict):
                    release(claims, announced)
                    raise
            except Exception:
                release(claims, announced)
                raise

        decision = self._store.decision_claim(execution_id, step, principal)
        if once(claims, decision, send, verdict=verdict.value) is None:
            raise AlreadyDecided("Your decision on this approval is already on its way to SSM.")
        # From here on the decision is in SSM: nothing below may report it as failed.
        try:
            self._audit.append(
                execution_id,
                "decision",
                step=step,
                slack_user=slack_user_id,
                principal=principal,
                verdict=verdict.value,
                comment=comment,
                via="slack",
                document=approval.document_name,
            )
        except ServiceError:
            # Not written down: let the next sync (EventBridge, the reconciler) announce it.
            logger.exception("decision sent; audit row left to the next sync")
            release(claims, announced)
            return approval
        try:
            card = self._store.card(execution_id, step)
            if card and card.ref:
                said = views.decision_text(
                    principal, verdict, comment, people={principal: identity.slack_user_id}
                )
                reply_in_thread(self._slack, card, announced, said)
            return self._cards.refresh(execution_id, step) or approval
        except ServiceError:
            logger.exception("decision sent; card left to the next sync")
            return approval

    def _identity(self, slack_user_id: str, max_age: float = 0.0) -> Identity:
        identity = self._identities.get(slack_user_id, max_age=max_age)
        if identity is None or identity.principal_arn is None:
            # Never refuse on a remembered mapping or an eventually consistent miss: someone
            # just mapped with `signoff users map` must not be told "not mapped" for a minute.
            identity = self._identities.get(slack_user_id, consistent=True)
        if identity is None or (identity.principal_arn is None and identity.iam_user is None):
            raise NotMapped(
                "You are not mapped to an AWS approver role yet. Ask an admin to run: "
                f"signoff users map {slack_user_id} --role <approver-role-arn> --name <your name>"
            )
        if identity.principal_arn is None:
            # `users map` replaces the whole mapping, so the line keeps the IAM user they have.
            raise NotMapped(
                f"You are mapped to IAM user `{identity.iam_user}` (for access keys) but to no "
                "approver role, so you cannot approve yet. Ask an admin to run: "
                f"signoff users map {slack_user_id} --role <approver-role-arn> "
                f"--iam-user {identity.iam_user} --name {shlex.quote(identity.display_name)}"
            )
        return identity

    def _authorize(self, identity: Identity, approval: Approval) -> str:
        principal = identity.principal_arn
        assert principal is not None  # _identity() guarantees it
        refused = refusal(identity.slack_user_id, principal, approval)
        if refused is not None:
            raise refused
        return principal

    def _landed(self, execution_id: str, step: str, principal: str, verdict: Verdict) -> bool:
        """Whether SSM holds this decision; False when SSM cannot say (nothing is claimed then:
        a retry finds the decision there, or sends it)."""
        try:
            approval = self._automation.get_approval(execution_id, step)
        except ServiceError:
            logger.warning("could not ask SSM whether the decision landed", exc_info=True)
            return False
        decision = approval.decision_of(principal)
        return decision is not None and decision.verdict is verdict


def refusal(slack_user_id: str, principal: str, approval: Approval) -> SignoffError | None:
    """Why this person, acting as `principal`, may not decide `approval` now; None if they may.

    The one rule both the card's buttons and the Home tab's list follow."""
    if not approval.outcome.is_open:
        return ApprovalClosed(
            f"This approval is closed ({approval.outcome.label.lower()}); nothing to decide."
        )
    if approval.parameter("RequesterSlackId") == slack_user_id:
        return SelfApproval("You asked for this; someone else has to approve it.")
    if not any(principal_matches(a, principal) for a in approval.approvers):
        return NotAnApprover(
            f"You act as {principal}, which is not among this execution's approvers "
            f"({', '.join(approval.approvers)}). Ask the runbook owner to add your role."
        )
    if approval.decision_of(principal):
        return AlreadyDecided("You have already decided this approval.")
    return None
