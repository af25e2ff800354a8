"""Flow C, told: once a key request has ended, DM the requester and tell the card, once each."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from msgspec.structs import replace

from bot import views
from bot.access_key_models import KeyOutcome, KeyReport, KeyStatus, OutcomeKind
from bot.approvals import approval_people, approver_people, mapped_people
from bot.approvals.thread import reply_in_thread
from bot.errors import ApprovalNotFound, ServiceError
from bot.gateways.automation import Automation
from bot.gateways.claims import ClaimKey, once
from bot.gateways.runs import Runs, RunSummary
from bot.gateways.slack import Slack
from bot.gateways.tables import ApprovalStore, AuditLog, CardItem, IdentityStore
from bot.models import Approval, Outcome, Verdict

logger = logging.getLogger(__name__)

ISSUE_ACTION = "aws:invokeLambdaFunction"
# The reconciler tells outcomes of requests that ended this recently and were never told.
RECONCILE_WINDOW = timedelta(hours=24)
# A run waits at most 86400 s for approval, then runs the issuer at most twice for 120 s: one
# that ended inside the window started at most this much before it.
_LONGEST_RUN = timedelta(hours=25)
# Per reconciler run: pages of SSM's list (50 executions each) read, and outcomes told. The
# rest waits for the next run, five minutes later, so a backlog cannot time the Lambda out.
RECONCILE_PAGES = 4
RECONCILE_MAX_TOLD = 50
# A card that shows a key request's outcome ranks above every state of its approval step
# (Approval.rank stays below 2000), so a late sync of the step cannot render it without.
_OUTCOME_RANK = 1_000_000
# Outcomes that may follow an approval without a key: "Approved" alone would read as issued.
_NO_KEY_AFTER_APPROVAL = frozenset({OutcomeKind.REFUSED, OutcomeKind.FAILED})
# Once a request's outcome has been told everywhere it can be, its "told" claim
# (ApprovalStore.key_outcome_told_claim) is taken: the reconciler passes it by. This long after
# a run ended, its events' Lambdas are over (the result function drops events older than an
# hour), so a part they still hold was sent: a failed send gives it back.
_SETTLED = timedelta(hours=2)

Clock = Callable[[], datetime]


class KeyOutcomes:
    """How each key request ended, told to its requester (a DM) and its card (thread, card)."""

    def __init__(
        self,
        *,
        document: str,
        automation: Automation,
        runs: Runs,
        identities: IdentityStore,
        store: ApprovalStore,
        audit: AuditLog,
        slack: Slack,
        now: Clock,
    ) -> None:
        self._document = document
        self._automation = automation
        self._runs = runs
        self._identities = identities
        self._store = store
        self._audit = audit
        self._slack = slack
        self._now = now

    def concerns(self, document_name: str) -> bool:
        """Whether a status event about `document_name` may be about a key request."""
        # Events without a Definition are checked against the execution itself.
        return document_name in ("", self._document)

    def notify_outcome(self, execution_id: str) -> KeyOutcome | None:
        """Once a key request has ended: DM the requester and tell the card's thread, once each."""
        outcome = self._finished_outcome(execution_id)
        if outcome is not None:
            self._tell(outcome)
        return outcome

    def reconcile(
        self,
        *,
        window: timedelta = RECONCILE_WINDOW,
        max_pages: int = RECONCILE_PAGES,
        max_told: int = RECONCILE_MAX_TOLD,
    ) -> dict[str, int]:
        """Tell the outcome of key requests that ended within `window` and were never told.

        EventBridge is best-effort: when the event for a finished run is lost, this is what DMs
        the requester. It does what the event does (`notify_outcome`), so the claims that keep
        a redelivered event from DMing twice also keep this from racing it.
        """
        now = self._now()
        counts = {"checked": 0, "told": 0, "failed": 0}
        listed = self._runs.finished(
            self._document, started_after=now - window - _LONGEST_RUN, max_pages=max_pages
        )
        if listed.truncated:
            logger.warning(
                "more finished key requests than one run reads; older ones were not checked",
                extra={"pages": max_pages},
            )
        recent = [run for run in listed.runs if (run.ended_at or now) >= now - window]
        # Read up front, 100 at a time: most were told long ago. One told since is kept from a
        # second DM by the claim notify_outcome takes, as an event racing this would be.
        told_claims = {self._store.key_outcome_told_claim(r.execution_id): r for r in recent}
        told = {told_claims[key].execution_id for key in self._store.claims.held_of(told_claims)}
        for run in recent:
            if run.execution_id in told:
                continue
            ended = run.ended_at or now
            if counts["checked"] == max_told:
                logger.warning("outcomes left for the next run", extra={"limit": max_told})
                break
            counts["checked"] += 1
            try:
                counts["told"] += self._reconcile_one(
                    run.execution_id, settled=ended < now - _SETTLED
                )
            except (ServiceError, ApprovalNotFound):
                counts["failed"] += 1
                logger.exception(
                    "key request outcome not told", extra={"execution_id": run.execution_id}
                )
        return counts

    # -- helpers ---------------------------------------------------------------------------

    def _finished_outcome(self, execution_id: str) -> KeyOutcome | None:
        run = self._runs.summary(execution_id)
        if run.document_name != self._document or not run.is_finished:
            return None
        return self._outcome(run)

    def _reconcile_one(self, execution_id: str, *, settled: bool) -> bool:
        outcome = self._finished_outcome(execution_id)
        sent = outcome is not None and self._tell(outcome)
        if settled:
            self._store.claims.take(self._store.key_outcome_told_claim(execution_id))
        return sent

    def _tell(self, outcome: KeyOutcome) -> bool:
        """DM the requester and reply in the card's thread, each at most once; True if sent now.

        Marks the outcome told when this call sent every part itself; a part someone else
        holds may still be on its way, or fail and be given back.
        """
        execution_id = outcome.execution_id
        # Who rejected, named only as the mapping proves it (never by a session's name alone).
        people = mapped_people(self._identities, outcome.decided_by) if outcome.decided_by else {}
        parts: list[bool] = []
        if outcome.requester:
            parts.append(
                self._once(
                    self._store.key_outcome_dm_claim(execution_id),
                    lambda: self._slack.dm(
                        outcome.requester, views.key_outcome_dm(outcome, people)
                    ),
                )
            )
            if parts[-1]:
                self._audit.append(
                    execution_id,
                    "access_key_outcome",
                    outcome=outcome.kind.value,
                    requester=outcome.requester,
                    iam_user=outcome.iam_user,
                    secret_name=outcome.secret_name,
                )
        card = self._card(execution_id)
        if card is not None:
            told = self._store.key_outcome_thread_claim(execution_id)
            line = partial(views.key_outcome_thread, outcome, people)
            parts.append(self._once(told, lambda: reply_in_thread(self._slack, card, told, line())))
        if card is not None and outcome.kind in _NO_KEY_AFTER_APPROVAL:
            parts.append(
                self._once(
                    self._store.key_outcome_card_claim(execution_id),
                    lambda: self._show_on_card(card, outcome),
                )
            )
        if all(parts):
            self._store.claims.take(self._store.key_outcome_told_claim(execution_id))
        return any(parts)

    def _show_on_card(self, card: CardItem, outcome: KeyOutcome) -> None:
        """An approved card whose key was not issued says so: "Approved" alone reads as issued."""
        approval = self._approval(outcome.execution_id)
        if approval is None or approval.outcome is not Outcome.APPROVED:
            return  # a rejected, timed-out or cancelled card already says all there is
        rank = approval.rank + _OUTCOME_RANK
        if card.ref is None or not self._store.raise_rank(approval, rank=rank):
            return
        try:
            people = approval_people(self._identities, approval)
            self._slack.update(
                card.ref,
                views.card_text(approval),
                views.key_request_card(
                    approval,
                    outcome,
                    people,
                    approvers=approver_people(self._identities, approval),
                ),
            )
        except Exception:
            self._store.lower_rank(
                approval.execution_id, card.step_name, rank, card.rank, card.outcome
            )
            raise

    def _outcome(self, run: RunSummary) -> KeyOutcome:
        failed = KeyOutcome(
            OutcomeKind.FAILED,
            execution_id=run.execution_id,
            iam_user=run.parameter("IamUser") or "",
            requester=run.parameter("RequesterSlackId") or "",
            failure=run.failure_message,
        )
        step = run.step_with_action(ISSUE_ACTION)
        payload = step.outputs.get("Payload") if step else None
        report = KeyReport.loads(payload[0]) if payload else None
        if report is not None and report.status is KeyStatus.ISSUED:
            return replace(failed, kind=OutcomeKind.ISSUED, secret_name=report.secret_name)
        if report is not None:
            return replace(failed, kind=OutcomeKind.REFUSED, refusal=report.status)
        approval = self._approval(run.execution_id)
        outcome = approval.outcome if approval else None
        if approval and outcome is Outcome.REJECTED:
            rejections = [d for d in approval.decisions if d.verdict is Verdict.REJECT]
            return replace(
                failed,
                kind=OutcomeKind.REJECTED,
                decided_by=tuple(d.principal for d in rejections),
                comment="\n".join(d.comment for d in rejections if d.comment),
            )
        if outcome is Outcome.TIMED_OUT:
            return replace(failed, kind=OutcomeKind.TIMED_OUT)
        if outcome is Outcome.CANCELLED or run.status == "Cancelled":
            return replace(failed, kind=OutcomeKind.CANCELLED)
        return failed

    def _approval(self, execution_id: str) -> Approval | None:
        try:
            return self._automation.get_approval(execution_id)
        except ApprovalNotFound:
            return None

    def _card(self, execution_id: str) -> CardItem | None:
        cards = [c for c in self._store.cards(execution_id) if c.ref is not None]
        return cards[0] if cards else None

    def _once(self, key: ClaimKey, send: Callable[[], object]) -> bool:
        """Send once however often the outcome is seen; a failed send can be retried."""
        return once(self._store.claims, key, send) is not None
