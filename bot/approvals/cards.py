"""Approval cards: post one per waiting approval (recovering a post that went unanswered), and
keep it and its thread true to SSM."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

import msgspec

from bot import views
from bot.approvals.decisions import DecisionLines
from bot.approvals.people import approval_people, approver_people
from bot.approvals.thread import reply_in_thread
from bot.concurrency import together
from bot.errors import ServiceError
from bot.gateways.automation import Automation
from bot.gateways.claims import once, release
from bot.gateways.pacing import Pacer
from bot.gateways.slack import PostKey, PostUnconfirmed, Slack
from bot.gateways.tables import ApprovalStore, AuditLog, CardItem, IdentityStore
from bot.models import Approval, CardRef

logger = logging.getLogger(__name__)

# A card claimed but not posted after this long has no poster left (Lambda timeouts are far
# shorter): the next look re-posts it, unless it finds it in Slack.
_STALE_CLAIM = timedelta(minutes=5)
_MAX_RENDERS = 10

Router = Callable[[Approval], str]


class Placement(msgspec.Struct, frozen=True):
    """Where a new card goes when the caller (a multi-level flow) decides, not the router."""

    channel: str
    thread_ts: str | None = None
    flow_id: str | None = None
    level: int | None = None
    levels: int | None = None


class FlowHooks(Protocol):
    """What a multi-level flow adds to an approval (implemented by bot.flows.FlowTracker)."""

    def placement(self, approval: Approval) -> Placement | None:
        """The flow's thread for this approval's card; None when it is in no flow."""

    def complete(self, approval: Approval) -> None:
        """First thing on every fresh read: tell Step Functions how a closed approval ended."""

    def observe(self, approval: Approval) -> None:
        """Last thing on every fresh read, after the card's own messages: move the flow on."""


def card_key(approval: Approval) -> PostKey:
    """What an approval's card is known by in Slack (its message metadata)."""
    return PostKey(f"card#{approval.execution_id}#{approval.step_name}")


class CardService:
    """One Slack card per SSM approval step, posted once, then kept in line with SSM."""

    def __init__(
        self,
        *,
        automation: Automation,
        store: ApprovalStore,
        identities: IdentityStore,
        audit: AuditLog,
        slack: Slack,
        route: Router,
        now: Callable[[], datetime],
        lines: DecisionLines,
        flows: FlowHooks | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._automation = automation
        self._store = store
        self._identities = identities
        self._audit = audit
        self._slack = slack
        self._route = route
        self._now = now
        self._lines = lines
        self._flows = flows
        self._pacer = pacer

    def announce(
        self,
        execution_id: str,
        step_name: str | None = None,
        placement: Placement | None = None,
        *,
        known: Approval | None = None,
    ) -> CardRef | None:
        """Post the card for a waiting approval, once however often the notice arrives.

        `known`: the approval as the caller just read it from SSM (not read again).
        """
        approval = known or self._automation.get_approval(execution_id, step_name)
        if not approval.outcome.is_open:
            logger.info("approval already closed; no card", extra={"execution_id": execution_id})
            return None
        where = placement or self._placement(approval)
        claimed = self._store.claim_card(
            execution_id,
            approval.step_name,
            where.channel,
            flow_id=where.flow_id,
            level=where.level,
            levels=where.levels,
            thread_ts=where.thread_ts,
        )
        if not claimed:
            return self._recover_card(approval)
        context = views.CardContext(level=where.level, levels=where.levels, flow_id=where.flow_id)
        # The channel's posting turn, once the claim is won: a claim lost to another poster (the
        # notice and the status event of one execution race) must not take one, or a burst of
        # notices to one channel loses a second per lost claim. Beside the turn, the bot token
        # (a function that reads it on first need would read it between the turn and the post).
        together(partial(self._wait_turn, where.channel), self._slack.get_ready)
        try:
            ref = self._slack.post(
                where.channel,
                views.card_text(approval),
                views.approval_card(
                    approval,
                    context,
                    self.people(approval),
                    approvers=approver_people(self._identities, approval),
                ),
                thread_ts=where.thread_ts,
                key=card_key(approval),
            )
        except PostUnconfirmed:
            # The card may be in the channel: keep the claim, or a retry would post it twice.
            # Marked, the next attempt (a retry, a click, the reconciler) looks for it at once.
            self._mark_unconfirmed(approval)
            raise
        except ServiceError:
            release(self._store.claims, self._store.card_claim(execution_id, approval.step_name))
            raise
        # The post's time, which the channel's next poster waits on, goes beside the card's
        # own records (in where.channel: the channel the turn was taken in, as it was named).
        pacer = self._pacer
        posted = () if pacer is None else (partial(pacer.posted, where.channel),)
        self._card_posted(approval, ref, alongside=posted)
        return ref

    def refresh(self, execution_id: str, step_name: str | None = None) -> Approval | None:
        """Bring the card and its thread in line with SSM (decisions made anywhere, the outcome)."""
        approval = self._automation.get_approval(execution_id, step_name)
        if self._flows is not None:
            # First, before any Slack call: a flow's task must not wait on Slack.
            self._flows.complete(approval)
        card = self._store.card(execution_id, approval.step_name)
        if card is None or card.ref is None:
            if approval.outcome.is_open:
                self.announce(execution_id, approval.step_name, known=approval)
            elif self._flows is not None:
                self._flows.observe(approval)
            return approval
        for decision in approval.decisions:
            self._lines.tell(approval, card, decision, via="AWS, outside Slack")
        self._render(approval, card)
        told = self._store.outcome_claim(execution_id, approval.step_name)
        if not approval.outcome.is_open and self._store.claims.take(told):
            self._audit.append(
                execution_id,
                "outcome",
                step=approval.step_name,
                outcome=approval.outcome.value,
                approved_by=list(approval.approved_by),
            )
            # One line per event: a decision's own line already says it approved or rejected
            # (the card says so too); only an ending no decision explains gets a line.
            if not approval.ended_by_decisions:
                said = views.outcome_text(approval, self.people(approval))
                reply_in_thread(self._slack, card, told, said)
        if self._flows is not None:
            # After the card's outcome, so the flow's thread reads in order.
            self._flows.observe(approval)
        return approval

    def people(self, approval: Approval) -> dict[str, str]:
        """The approval's principals that are people by Signoff's mapping (`approval_people`)."""
        return approval_people(self._identities, approval)

    def _card_posted(
        self,
        approval: Approval,
        ref: CardRef,
        *,
        alongside: Sequence[Callable[[], None]] = (),
        adopted: bool = False,
    ) -> None:
        """Record a card that is in Slack: where it is, and its notice_received row in the audit.

        The two writes (and the calls `alongside`) are independent, so they go side by side. A
        card `adopted` from Slack may have had its row written by the poster whose record of the
        card failed: the row is written only if the audit lacks it.
        """
        execution_id, step = approval.execution_id, approval.step_name
        writes: list[Callable[[], object]] = [
            lambda: self._store.card_posted(approval, ref),
            *alongside,
        ]
        if not (adopted and self._audit.has(execution_id, "notice_received", step=step, ts=ref.ts)):
            writes.append(
                lambda: self._audit.append(
                    execution_id,
                    "notice_received",
                    document=approval.document_name,
                    step=step,
                    channel=ref.channel,
                    ts=ref.ts,
                    approvers=list(approval.approvers),
                    min_required=approval.min_required,
                )
            )
        together(*writes)
        if self._flows is not None:
            self._flows.observe(approval)

    def _wait_turn(self, channel: str) -> None:
        """A burst of notices for one channel posts one card per turn, not 429 after 429."""
        if self._pacer is not None:
            self._pacer.wait_turn(channel)

    def _mark_unconfirmed(self, approval: Approval) -> None:
        card = self._store.card(approval.execution_id, approval.step_name)
        if card is None or card.ref is not None:
            return
        try:
            self._store.claims.take(self._store.unconfirmed_claim(card))
        except ServiceError:
            # Unmarked, the claim is looked at once it is stale instead: later, not twice.
            logger.exception("could not mark a card post as unconfirmed")

    def _recover_card(self, approval: Approval) -> CardRef | None:
        """A card claimed by someone else: adopt it if its post landed unconfirmed, or re-post
        it if its poster died and it is not in Slack; leave it to a poster still at work."""
        execution_id, step = approval.execution_id, approval.step_name
        card = self._store.card(execution_id, step)
        if card is None or card.ref is not None:
            logger.info("card already posted", extra={"execution_id": execution_id})
            return None
        claims = self._store.claims
        stale = card.created_at < self._now() - _STALE_CLAIM
        if not stale and not claims.held(self._store.unconfirmed_claim(card)):
            logger.info("card being posted", extra={"execution_id": execution_id})
            return None
        # One looker per claim, so a found card is recorded (and its thread told) once.
        takeover = self._store.takeover_claim(card)
        looked = once(claims, takeover, partial(self._adopt, approval, card))
        if looked is None:
            return None
        if looked.value is not None:
            return looked.value
        if not stale:
            # Not in Slack yet; the unanswered request may still land. Look again later.
            release(claims, takeover)
            logger.info("unconfirmed card not in Slack yet", extra={"execution_id": execution_id})
            return None
        # The poster died or its post never landed: post it anew, under a fresh claim.
        logger.warning(
            "re-posting a card whose post never landed",
            extra={"execution_id": execution_id, "channel": card.channel},
        )
        # Raised when it cannot be given back: announcing under a claim still held would post
        # nothing (the takeover above is ours) and say nothing.
        self._store.release_card(execution_id, step)
        where = Placement(card.channel, card.thread_ts, card.flow_id, card.level, card.levels)
        return self.announce(execution_id, step, where)

    def _adopt(self, approval: Approval, card: CardItem) -> CardRef | None:
        """The card as Slack has it, recorded as posted; None when Slack does not have it."""
        found = self._slack.find_posted(card.channel, card_key(approval), thread_ts=card.thread_ts)
        if found is not None:
            logger.info("adopted a card whose post went unanswered", extra={"ts": found.ts})
            self._card_posted(approval, found, adopted=True)
        return found

    def _placement(self, approval: Approval) -> Placement:
        where = self._flows.placement(approval) if self._flows is not None else None
        return where or Placement(channel=self._route(approval))

    def _render(self, approval: Approval, card: CardItem) -> None:
        """Update the card unless it already shows this state or a later one.

        Two renders can race; the rank in the table only grows, and a render that finds a later
        rank recorded after its own update renders again from SSM, so the last update Slack
        receives is never older than the newest state seen.
        """
        if card.ref is None or not self._store.raise_rank(approval):
            return
        context = views.CardContext(level=card.level, levels=card.levels, flow_id=card.flow_id)
        shown = approval.rank
        try:
            for _ in range(_MAX_RENDERS):
                self._slack.update(
                    card.ref,
                    views.card_text(approval),
                    views.approval_card(
                        approval,
                        context,
                        self.people(approval),
                        approvers=approver_people(self._identities, approval),
                    ),
                )
                latest = self._store.card(approval.execution_id, approval.step_name)
                if latest is None or latest.rank <= approval.rank:
                    return
                approval = self._automation.get_approval(approval.execution_id, approval.step_name)
        except ServiceError:
            # Slack never showed it: take the rank back, or no later sync would render it (and
            # the reconciler would stop looking at a card recorded as closed).
            self._store.lower_rank(
                approval.execution_id, approval.step_name, shown, card.rank, card.outcome
            )
            raise
