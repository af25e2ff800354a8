"""A flow's thread in Slack: its root message and ladder, how it ended, pointers to its levels."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import msgspec

from bot import views
from bot.approvals import Placement, mapped_people
from bot.errors import ServiceError, TransientError
from bot.flows.rules import (
    ENDED,
    STALE_CLAIM,
    TASK_ERRORS,
    flow_outcome_after,
    flow_state,
    level_state,
    pointer_key,
    root_key,
)
from bot.gateways.claims import once
from bot.gateways.flowstore import FlowItem, FlowStore, LevelItem, Membership
from bot.gateways.slack import PostKey, PostUnconfirmed, Slack, reply_key
from bot.gateways.stepfunctions import StepFunctions
from bot.gateways.tables import AuditLog, IdentityStore
from bot.models import Approval, CardRef, FlowState, Outcome

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_MAX_RENDERS = 5


class FlowThread:
    """A flow's messages: one root message per flow (its ladder), its outcome, level pointers.

    Each message is posted once however many invocations get there at the same time, and the
    ladder is brought up to the flow's latest recorded version after every change.
    """

    def __init__(
        self,
        *,
        flows: FlowStore,
        identities: IdentityStore,
        sfn: StepFunctions,
        slack: Slack,
        audit: AuditLog,
        now: Clock,
    ) -> None:
        self._flows = flows
        self._identities = identities
        self._sfn = sfn
        self._slack = slack
        self._audit = audit
        self._now = now

    def place(self, flow: FlowItem, level: int) -> Placement:
        """Where a level's card goes: the flow's thread, its root posted first if need be."""
        root = self.ensure_root(flow)
        return Placement(
            channel=root.channel,
            thread_ts=root.ts,
            flow_id=flow.flow_id,
            level=level,
            levels=flow.levels,
        )

    def ensure_root(self, flow: FlowItem) -> CardRef:
        """The flow's root message, posted once however many invocations ask at the same time."""
        if flow.root:
            return flow.root
        key = root_key(flow.flow_id)

        def post() -> tuple[FlowItem, CardRef, bool]:
            """The root (found or posted) and whether it still has to be recorded."""
            current = self._flows.flow(flow.flow_id) or flow
            # A claim taken over from a post that went unanswered: that post may have landed.
            found = (
                self._slack.find_posted(current.channel, key)
                if self._was_unconfirmed(flow.flow_id)
                else None
            )
            if found is not None:
                self._root_posted(current, found)
                return current, found, False
            state = self._flow_state(current, self._flows.levels(flow.flow_id))
            try:
                ref = self._slack.post(
                    current.channel, views.flow_root_text(state), views.flow_root(state), key=key
                )
            except PostUnconfirmed:
                # It may be in the channel: the claim stays, marked, and the next call looks.
                self._flows.claims.take(self._flows.root_unconfirmed_claim(flow.flow_id))
                raise
            return current, ref, True

        claims = self._flows.root_claims(self._now() - STALE_CLAIM)
        ran = once(claims, self._flows.root_claim(flow.flow_id), post, keep_on=(PostUnconfirmed,))
        if ran is None:
            latest = self._flows.flow(flow.flow_id)
            if latest and latest.root:
                return latest.root
            # Posting, or a post that went unanswered and may have landed: look before waiting.
            found = self._slack.find_posted((latest or flow).channel, key)
            if found is None:
                raise TransientError("Another invocation is posting this flow's root message.")
            self._root_posted(latest or flow, found)
            return found
        current, ref, unrecorded = ran.value
        if unrecorded:
            # After the claim: the post landed, so a failure here must not give the claim back.
            self._root_posted(current, ref)
        return ref

    def _was_unconfirmed(self, flow_id: str) -> bool:
        return self._flows.claims.held(self._flows.root_unconfirmed_claim(flow_id))

    def _root_posted(self, flow: FlowItem, ref: CardRef) -> None:
        # The poster and an invocation that found its message may both get here: record it once.
        claim = self._flows.root_recorded_claim(flow.flow_id, ref.ts)
        if once(self._flows.claims, claim, lambda: self._flows.set_root(flow.flow_id, ref)) is None:
            return
        self._flows.set_rendered(flow.flow_id, flow.version)
        self._audit.append(flow.flow_id, "flow_thread", channel=ref.channel, ts=ref.ts)

    def render(self, flow_id: str) -> None:
        """Bring the root message's ladder up to the flow's latest recorded version.

        Renders can race. A render whose version turns out older than one already shown may have
        overwritten it, so it renders again from a fresh read; the last update is never stale.
        """
        overwritten = False
        for _ in range(_MAX_RENDERS):
            flow = self._flows.flow(flow_id)
            if flow is None or flow.root is None:
                return
            if not overwritten and flow.version <= flow.rendered:
                return
            state = self._flow_state(flow, self._flows.levels(flow_id))
            self._slack.update(flow.root, views.flow_root_text(state), views.flow_root(state))
            overwritten = not self._flows.set_rendered(flow_id, flow.version)

    def state(self, flow_id: str) -> FlowState | None:
        flow = self._flows.flow(flow_id)
        return self._flow_state(flow, self._flows.levels(flow_id)) if flow else None

    def _flow_state(self, flow: FlowItem, levels: list[LevelItem]) -> FlowState:
        """The flow as its views show it; a decider is a person only by Signoff's mapping."""
        deciders = [p for item in levels for p in (*item.approved_by, *item.rejected_by)]
        return flow_state(flow, levels, mapped_people(self._identities, deciders))

    # -- the flow's outcome and the level pointers ------------------------------------------------

    def conclude(
        self, flow: FlowItem, member: Membership, approval: Approval, closed_code: str | None
    ) -> None:
        """Say in the thread how the flow ended, once; or that a level's result came too late."""
        if closed_code is not None:
            self._say_late(flow, member, approval, closed_code)
            return
        outcome = flow_outcome_after(approval.outcome, member.level, flow.levels)
        if outcome is None:
            return

        def say_outcome() -> None:
            root = self.ensure_root(flow)
            base = self.state(flow.flow_id) or self._flow_state(flow, [])
            state = msgspec.structs.replace(base, outcome=outcome)
            self._slack.reply(
                root,
                views.flow_outcome_text(state, TASK_ERRORS.get(outcome)),
                key=reply_key(flow.flow_id, "outcome"),
            )

        if once(self._flows.claims, self._flows.outcome_claim(flow.flow_id), say_outcome) is None:
            return
        self._flows.set_outcome(flow.flow_id, outcome)
        self._audit.append(flow.flow_id, "flow_outcome", outcome=outcome.value, level=member.level)

    def _say_late(self, flow: FlowItem, member: Membership, approval: Approval, code: str) -> None:
        def say_late() -> str | None:
            try:
                execution = self._sfn.describe_execution(flow.flow_id)
            except ServiceError:
                execution = None
            status = execution.status if execution else None
            self._slack.reply(
                self.ensure_root(flow),
                views.late_result_text(
                    level_state(member.level, approval), flow.levels, code, status
                ),
                key=reply_key(flow.flow_id, f"late#{approval.execution_id}"),
            )
            return status

        late = self._flows.late_claim(flow.flow_id, approval.execution_id)
        said = once(self._flows.claims, late, say_late)
        ended = ENDED.get(said.value or "") if said else None
        if ended is not None:
            # How the parent ended, unless the flow's outcome was said already.
            once(
                self._flows.claims,
                self._flows.outcome_claim(flow.flow_id),
                lambda: self._flows.set_outcome(flow.flow_id, ended),
            )

    def sync_pointer(self, flow_id: str, level: int, execution_id: str) -> None:
        """A short message in the level's own channel when the thread lives in another one.

        It says where the card is and, once the level ends, how it ended: the card itself lives
        only in the thread, so there is no second copy to keep in step.
        """
        flow = self._flows.flow(flow_id)
        item = next((lv for lv in self._flows.levels(flow_id) if lv.level == level), None)
        if flow is None or flow.root is None or item is None or item.execution_id != execution_id:
            return
        if not item.channel or item.channel == flow.root.channel:
            return
        state = self._flow_state(flow, [item])
        shown = state.levels[level - 1]
        root = flow.root
        key = pointer_key(execution_id)
        channel = item.channel
        ts = item.pointer_ts

        def post() -> CardRef:
            link = self._thread_link(root)
            return self._slack.post(
                channel,
                views.level_pointer_text(state, shown, root.channel, link),
                views.level_pointer(state, shown, root.channel, link),
                key=key,
            )

        def update(ts: str) -> None:
            link = self._thread_link(root)
            self._slack.update(
                CardRef(channel, ts),
                views.level_pointer_text(state, shown, root.channel, link),
                views.level_pointer(state, shown, root.channel, link),
            )

        if ts is None and item.outcome is Outcome.WAITING:
            # A post Slack did not confirm may be in the channel: its claim stays, and a later
            # look adopts it.
            claim = self._flows.pointer_claim(flow_id, execution_id)
            posted = once(self._flows.claims, claim, post, keep_on=(PostUnconfirmed,))
            if posted is not None:
                self._flows.set_pointer(flow_id, level, posted.value.ts)
                return
        if ts is None:
            # Being posted by another invocation, or posted without an answer: look for it.
            ts = self._adopt_pointer(flow_id, level, channel, key)
        if ts is None or item.outcome is Outcome.WAITING:
            return
        closed = self._flows.pointer_closed_claim(flow_id, execution_id)
        once(self._flows.claims, closed, lambda: update(ts))

    def _adopt_pointer(self, flow_id: str, level: int, channel: str, key: PostKey) -> str | None:
        """The ts of a pointer posted but not recorded (its post went unanswered), if any."""
        try:
            found = self._slack.find_posted(channel, key)
        except ServiceError:
            # A pointer is a courtesy: never fail the flow over one.
            logger.warning("could not look for a level pointer", exc_info=True)
            return None
        if found is None:
            return None
        self._flows.set_pointer(flow_id, level, found.ts)
        return found.ts

    def _thread_link(self, root: CardRef) -> str | None:
        """A permalink to the flow's thread; None (the pointer names the channel) if Slack fails."""
        try:
            return self._slack.permalink(root)
        except ServiceError:
            logger.warning("no permalink for the flow's thread", exc_info=True)
            return None
