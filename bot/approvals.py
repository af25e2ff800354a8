"""The approval rules: post a card once, authorize and send a decision once, keep the card true."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

import msgspec

from bot import views
from bot.concurrency import together
from bot.errors import (
    AlreadyDecided,
    ApprovalClosed,
    NotAnApprover,
    NotMapped,
    SelfApproval,
    ServiceError,
    TransientError,
)
from bot.gateways.automation import ApproverSignals, Automation
from bot.gateways.pacing import Pacer
from bot.gateways.slack import PostKey, PostUnconfirmed, Slack, reply_key
from bot.gateways.tables import ApprovalStore, AuditLog, CardItem, IdentityStore
from bot.models import Approval, CardRef, Decision, Identity, Verdict, principal_matches

logger = logging.getLogger(__name__)

# A card claimed but not posted after this long has no poster left (Lambda timeouts are far
# shorter): the next look re-posts it, unless it finds it in Slack.
_STALE_CLAIM = timedelta(minutes=5)
_MAX_RENDERS = 10
# Seconds a mapping read for an earlier click may answer a click's check (never a decision).
CHECK_IDENTITY_MAX_AGE = 60.0

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


def mapped_people(identities: IdentityStore, principals: Iterable[str]) -> dict[str, str]:
    """The principals that are people by Signoff's mapping: principal → Slack user id.

    A principal is a person only when it is exactly the session Signoff opens for a mapped
    user (their mapped role, their Slack id as session name and SourceIdentity). Any other
    principal, however its session is named, is shown as itself: anyone who may assume any
    role can call a session `U0CAROL`.
    """
    people: dict[str, str] = {}
    for principal in set(principals):
        session = principal.rsplit("/", 1)[-1] if ":assumed-role/" in principal else ""
        if not views.looks_like_slack_user(session):
            continue
        identity = identities.get(session, max_age=CHECK_IDENTITY_MAX_AGE)
        if identity is not None and identity.principal_arn == principal:
            people[principal] = session
    return people


def approval_people(identities: IdentityStore, approval: Approval) -> dict[str, str]:
    """`mapped_people` of everyone an approval's card names: its deciders and its approvers."""
    principals = {d.principal for d in approval.decisions} | set(approval.approvers)
    return mapped_people(identities, principals)


def approver_people(identities: IdentityStore, approval: Approval) -> dict[str, tuple[str, ...]]:
    """Who may decide, as people: each `Approvers` entry → the Slack users whose mapping SSM
    counts as that entry (a role's members, an exact session's owner), in display-name order.

    Only through the mapping, as `_undecided_mentions` nudges: an entry nobody is mapped to is
    left out, and the card shows it as the principal it is. For display only (a mapping up to
    a minute old may stand in); a decision is checked afresh.
    """
    mapped = [
        (i.slack_user_id, principal)
        for i in identities.everyone(max_age=CHECK_IDENTITY_MAX_AGE)
        if (principal := i.principal_arn)
    ]
    people: dict[str, tuple[str, ...]] = {}
    for entry in approval.approvers:
        users = tuple(user for user, p in mapped if principal_matches(entry, p))
        if users:
            people[entry] = users
    return people


class ApprovalService:
    """Flow A: SSM approval → Slack card → decision as the clicking human → card and thread."""

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
        self._automation = automation
        self._signals = signals
        self._store = store
        self._identities = identities
        self._audit = audit
        self._slack = slack
        self._route = route
        self._now = now
        self._reminder_before = reminder_before
        self._flows = flows
        self._pacer = pacer

    # -- cards -----------------------------------------------------------------------------

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
            self._store.release_card(execution_id, approval.step_name)
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
            self._announce_decision(approval, card, decision, via="AWS, outside Slack")
        self._render(approval, card)
        told = f"outcome#{approval.step_name}"
        if not approval.outcome.is_open and self._store.claim(execution_id, told):
            self._audit.append(
                execution_id,
                "outcome",
                step=approval.step_name,
                outcome=approval.outcome.value,
                approved_by=list(approval.approved_by),
            )
            self._reply(card, told, views.outcome_text(approval, self.people(approval)))
        if self._flows is not None:
            # After the card's outcome, so the flow's thread reads in order.
            self._flows.observe(approval)
        return approval

    def people(self, approval: Approval) -> dict[str, str]:
        """The approval's principals that are people by Signoff's mapping (`approval_people`)."""
        return approval_people(self._identities, approval)

    # -- decisions -------------------------------------------------------------------------

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
        claims = (f"decision#{step}#{principal}", f"announced#{step}#{principal}")
        # The announcement is claimed with the decision so an EventBridge sync racing us does
        # not also tell the thread about it (as "outside Slack").
        if not self._store.claim(execution_id, claims[0], verdict=verdict.value):
            raise AlreadyDecided("Your decision on this approval is already on its way to SSM.")
        try:
            self._store.claim(execution_id, claims[1])
            self._signals.send(identity, execution_id, verdict, comment)
        except (ApprovalClosed, TransientError):
            # SSM refuses a repeat of a signal it already took (botocore retries a 5xx or a
            # timeout whose request had landed), or no answer came at all (every retry timed
            # out, and one may have landed): when SSM has the decision, it stands.
            if not self._landed(execution_id, step, principal, verdict):
                self._release(execution_id, claims)
                raise
        except Exception:
            self._release(execution_id, claims)
            raise
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
            )
        except ServiceError:
            # Not written down: let the next sync (EventBridge, the reconciler) announce it.
            logger.exception("decision sent; audit row left to the next sync")
            self._release(execution_id, claims[1:])
            return approval
        try:
            card = self._store.card(execution_id, step)
            if card and card.ref:
                said = views.decision_text(
                    principal, verdict, comment, people={principal: identity.slack_user_id}
                )
                self._reply(card, claims[1], said)
            return self.refresh(execution_id, step) or approval
        except ServiceError:
            logger.exception("decision sent; card left to the next sync")
            return approval

    # -- the reconciler ----------------------------------------------------------------------

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
                    self.refresh(card.execution_id, card.step_name)
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
            posted = self.announce(execution_id, approval.step_name, known=approval)
            return "posted" if posted else "synced"
        if not approval.outcome.is_open or approval.timeout_at is None:
            return "synced"
        if approval.timeout_at - now > self._reminder_before:
            return "synced"
        reminder = f"reminder#{approval.step_name}"
        if not self._store.claim(execution_id, reminder):
            return "synced"
        self._reply(
            card, reminder, views.reminder_text(approval, self._undecided_mentions(approval))
        )
        self._audit.append(execution_id, "reminder", step=approval.step_name)
        return "reminded"

    # -- helpers ---------------------------------------------------------------------------

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
            lambda: self._store.card_posted(
                execution_id, step, ref, approval.rank, approval.outcome
            ),
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
            self._store.claim(approval.execution_id, f"unconfirmed#{_claim_id(card)}")
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
        claim_id = _claim_id(card)
        stale = card.created_at < self._now() - _STALE_CLAIM
        if not stale and not self._store.has_claim(execution_id, f"unconfirmed#{claim_id}"):
            logger.info("card being posted", extra={"execution_id": execution_id})
            return None
        # One looker per claim, so a found card is recorded (and its thread told) once.
        takeover = f"takeover#{claim_id}"
        if not self._store.claim(execution_id, takeover):
            return None
        where = Placement(card.channel, card.thread_ts, card.flow_id, card.level, card.levels)
        try:
            found = self._slack.find_posted(
                card.channel, card_key(approval), thread_ts=card.thread_ts
            )
            if found is not None:
                logger.info("adopted a card whose post went unanswered", extra={"ts": found.ts})
                self._card_posted(approval, found, adopted=True)
                return found
        except Exception:
            self._release(execution_id, [takeover])
            raise
        if not stale:
            # Not in Slack yet; the unanswered request may still land. Look again later.
            self._release(execution_id, [takeover])
            logger.info("unconfirmed card not in Slack yet", extra={"execution_id": execution_id})
            return None
        # The poster died or its post never landed: post it anew, under a fresh claim.
        logger.warning(
            "re-posting a card whose post never landed",
            extra={"execution_id": execution_id, "channel": card.channel},
        )
        self._store.release_card(execution_id, step)
        return self.announce(execution_id, step, where)

    def _placement(self, approval: Approval) -> Placement:
        where = self._flows.placement(approval) if self._flows is not None else None
        return where or Placement(channel=self._route(approval))

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
        if not approval.outcome.is_open:
            raise ApprovalClosed(
                f"This approval is closed ({approval.outcome.label.lower()}); nothing to decide."
            )
        if approval.parameter("RequesterSlackId") == identity.slack_user_id:
            raise SelfApproval("You asked for this; someone else has to approve it.")
        if not any(principal_matches(a, principal) for a in approval.approvers):
            raise NotAnApprover(
                f"You act as {principal}, which is not among this execution's approvers "
                f"({', '.join(approval.approvers)}). Ask the runbook owner to add your role."
            )
        if approval.decision_of(principal):
            raise AlreadyDecided("You have already decided this approval.")
        return principal

    def _announce_decision(
        self, approval: Approval, card: CardItem, decision: Decision, via: str
    ) -> None:
        key = f"announced#{approval.step_name}#{decision.principal}"
        if not self._store.claim(approval.execution_id, key):
            return
        # A decision sent from Slack whose audit row could not be written is announced here too.
        from_slack = self._store.has_claim(
            approval.execution_id, f"decision#{approval.step_name}#{decision.principal}"
        )
        if from_slack:
            via = "Slack"
        try:
            self._audit.append(
                approval.execution_id,
                "decision",
                step=approval.step_name,
                principal=decision.principal,
                verdict=decision.verdict.value,
                comment=decision.comment,
                via="slack" if from_slack else "aws",
            )
        except ServiceError:
            self._release(approval.execution_id, [key])  # the next sync tries again
            raise
        self._reply(
            card,
            key,
            views.decision_text(
                decision.principal,
                decision.verdict,
                decision.comment,
                via=via,
                people=self.people(approval),
            ),
        )

    def _render(self, approval: Approval, card: CardItem) -> None:
        """Update the card unless it already shows this state or a later one.

        Two renders can race; the rank in the table only grows, and a render that finds a later
        rank recorded after its own update renders again from SSM, so the last update Slack
        receives is never older than the newest state seen.
        """
        if card.ref is None or not self._store.raise_rank(
            approval.execution_id, approval.step_name, approval.rank, approval.outcome
        ):
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

    def _release(self, execution_id: str, claims: Sequence[str]) -> None:
        for claim in claims:
            try:
                self._store.release(execution_id, claim)
            except ServiceError:
                # Kept, the claim says "on its way" until its TTL: worth an operator's look.
                logger.exception("could not release a claim", extra={"claim": claim})

    def _reply(self, card: CardItem, claim: str, text: str) -> None:
        """A line in the card's thread, posted once: `claim` (taken by the caller) names it."""
        if card.ref is not None:
            self._slack.reply(
                card.thread_ref or card.ref, text, key=reply_key(card.execution_id, claim)
            )

    def _undecided_mentions(self, approval: Approval) -> list[str]:
        return [
            i.slack_user_id
            for i in self._identities.all()
            if i.principal_arn
            and any(principal_matches(a, i.principal_arn) for a in approval.approvers)
            and approval.decision_of(i.principal_arn) is None
        ]


def card_key(approval: Approval) -> PostKey:
    """What an approval's card is known by in Slack (its message metadata)."""
    return PostKey(f"card#{approval.execution_id}#{approval.step_name}")


def _claim_id(card: CardItem) -> str:
    # A card claim is identified by when it was taken: a re-post takes a new one.
    return f"{card.step_name}#{card.created_at.isoformat()}"
