"""The App Home tab: what waits for each person, their requests and decisions; kept current."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

from bot.access_key_models import RecordedKeyRequest
from bot.approvals import FlowHooks, Placement
from bot.approvals.decisions import refusal
from bot.concurrency import together
from bot.errors import ApprovalNotFound, ServiceError
from bot.gateways.automation import Automation
from bot.gateways.key_requests import KeyRequestRecords
from bot.gateways.slack import HomeTabs
from bot.gateways.tables import ApprovalStore, AuditLog, CardItem, IdentityStore
from bot.models import (
    Approval,
    Decided,
    HomeState,
    Identity,
    MappedAs,
    Outcome,
    Request,
    Verdict,
    Waiting,
    principal_matches,
)
from bot.views import home as home_view

logger = logging.getLogger(__name__)

# Seconds a mapping read earlier may stand in when choosing whose Home to republish (display
# only: a decision reads the mapping afresh, as the card's buttons do).
_PEOPLE_MAX_AGE = 60.0


class HomeService:
    """Builds and publishes Home tabs: on `app_home_opened`, and for everyone an approval's
    change concerns (its approvers, who decided it, who asked for it)."""

    def __init__(
        self,
        *,
        identities: IdentityStore,
        store: ApprovalStore,
        automation: Automation,
        audit: AuditLog,
        records: KeyRequestRecords,
        slack: HomeTabs,
        now: Callable[[], datetime],
    ) -> None:
        self._identities = identities
        self._store = store
        self._automation = automation
        self._audit = audit
        self._records = records
        self._slack = slack
        self._now = now

    def publish(self, slack_user_id: str) -> HomeState:
        """Publish one person's Home tab as it is now."""
        return self._publish([slack_user_id])[0]

    def approval_changed(self, approval: Approval) -> None:
        """Republish the Home of everyone mapped who sees `approval`: whoever may decide it (it
        appears or leaves their list), whoever decided it, and whoever asked for it.

        Never raises for AWS or Slack: a Home left stale is put right the next time it opens.
        """
        try:
            users = self._concerned(approval)
            if users:
                self._publish(sorted(users), tolerant=True)
        except ServiceError:
            logger.warning(
                "Home tabs not republished",
                exc_info=True,
                extra={"execution_id": approval.execution_id},
            )

    def execution_changed(self, execution_id: str) -> None:
        """`approval_changed` for an execution known by its id (a card just posted)."""
        try:
            approval = self._automation.get_approval(execution_id)
        except (ServiceError, ApprovalNotFound):
            logger.warning("Home tabs not republished", exc_info=True)
            return
        self.approval_changed(approval)

    def state(self, slack_user_id: str) -> HomeState:
        """What one person's Home tab shows now."""
        return self._state(slack_user_id, self._open_approvals())

    # -- helpers ---------------------------------------------------------------------------

    def _publish(self, users: Sequence[str], *, tolerant: bool = False) -> list[HomeState]:
        open_now = self._open_approvals()
        now = self._now()

        def one(user: str) -> HomeState | None:
            try:
                state = self._state(user, open_now)
                self._slack.publish_home(user, home_view.home_view(state, now))
            except ServiceError:
                if not tolerant:
                    raise
                # One person's Home failing (Slack busy, a read refused) must not keep the
                # others stale.
                logger.warning("Home tab not published", exc_info=True, extra={"user": user})
                return None
            return state

        # Side by side: each Home is a few reads and one views.publish (Slack's Tier 4).
        published = together(*(partial(one, user) for user in users))
        return [state for state in published if state is not None]

    def _state(self, user: str, open_now: Sequence[tuple[CardItem, Approval]]) -> HomeState:
        identity = self._identity(user)
        principal = identity.principal_arn if identity else None
        waiting = sorted(
            (
                _waiting(card, approval)
                for card, approval in open_now
                if principal is not None and refusal(user, principal, approval) is None
            ),
            key=lambda w: w.since,
            reverse=True,
        )
        requests, decided = together(lambda: self._requests(user), lambda: self._decided(user))
        return HomeState(
            user=user,
            waiting=tuple(waiting[: home_view.WAITING_MAX]),
            waiting_total=len(waiting),
            requests=tuple(requests),
            decided=tuple(decided),
            mapping=_mapping(identity),
            iam_user=identity.iam_user if identity else None,
        )

    def _identity(self, user: str) -> Identity | None:
        identity = self._identities.get(user, max_age=_PEOPLE_MAX_AGE)
        if identity is None or identity.principal_arn is None:
            # Never show "not mapped" from a remembered miss or an eventually consistent read:
            # someone just mapped must see their approvals at once.
            identity = self._identities.get(user, consistent=True)
        return identity

    def _open_approvals(self) -> list[tuple[CardItem, Approval]]:
        """Every posted card still waiting, with its approval as the card last showed it (kept
        on the card's row each time the card changes). A row from before that was kept is read
        from SSM (side by side); a card whose read fails is left out, the rest still show."""
        cards = [card for card in self._store.open_cards() if card.ref is not None]
        read = iter(together(*(partial(self._approval, c) for c in cards if c.seen is None)))
        approvals = [card.seen if card.seen is not None else next(read) for card in cards]
        return [
            (card, approval)
            for card, approval in zip(cards, approvals, strict=True)
            if approval is not None and approval.outcome.is_open
        ]

    def _approval(self, card: CardItem) -> Approval | None:
        try:
            return self._automation.get_approval(card.execution_id, card.step_name)
        except (ServiceError, ApprovalNotFound):
            logger.warning(
                "approval left off the Home tab", exc_info=True, extra={"card": card.execution_id}
            )
            return None

    def _requests(self, user: str) -> list[Request]:
        recorded = self._records.by_requester(user, home_view.REQUESTS_MAX)
        return [self._request(r, at) for r, at in recorded]

    def _request(self, recorded: RecordedKeyRequest, at: datetime | None) -> Request:
        state: Outcome | None = None
        if recorded.execution_id:
            cards = self._store.cards(recorded.execution_id)
            # The run has started; until its card is posted it waits all the same.
            state = cards[0].outcome if cards else Outcome.WAITING
        return Request(
            iam_user=recorded.iam_user,
            reason=recorded.reason,
            execution_id=recorded.execution_id,
            state=state,
            at=at,
        )

    def _decided(self, user: str) -> list[Decided]:
        rows = self._audit.decided_by(user, home_view.DECIDED_MAX)
        decided = []
        for row in rows:
            try:
                decided.append(
                    Decided(
                        execution_id=str(row["pk"]),
                        step_name=str(row.get("step") or ""),
                        verdict=Verdict(str(row["verdict"])),
                        at=datetime.fromisoformat(str(row["at"])),
                        comment=str(row.get("comment") or ""),
                        document_name=str(row.get("document") or ""),
                    )
                )
            except (KeyError, ValueError):
                logger.warning("audit row not shown on the Home tab", extra={"sk": row.get("sk")})
        return decided

    def _concerned(self, approval: Approval) -> set[str]:
        mapped = [
            (i.slack_user_id, principal)
            for i in self._identities.everyone(max_age=_PEOPLE_MAX_AGE)
            if (principal := i.principal_arn)
        ]
        deciders = {d.principal for d in approval.decisions}
        users = {
            user
            for user, principal in mapped
            if principal in deciders
            or any(principal_matches(a, principal) for a in approval.approvers)
        }
        requester = approval.parameter("RequesterSlackId")
        if requester:
            users.add(requester)
        return users


class HomeHooks:
    """A flow's hooks (bot.approvals.FlowHooks) that also republish Home tabs after each fresh
    read of an approval: a decision (from Slack or elsewhere) and an outcome both pass there."""

    def __init__(self, flows: FlowHooks, home: HomeService) -> None:
        self._flows = flows
        self._home = home

    def placement(self, approval: Approval) -> Placement | None:
        return self._flows.placement(approval)

    def complete(self, approval: Approval) -> None:
        self._flows.complete(approval)

    def observe(self, approval: Approval) -> None:
        self._flows.observe(approval)
        self._home.approval_changed(approval)


def _waiting(card: CardItem, approval: Approval) -> Waiting:
    assert card.ref is not None  # _open_approvals keeps posted cards only
    return Waiting(
        approval=approval,
        card=card.ref,
        since=card.created_at,
        level=card.level,
        levels=card.levels,
        flow_id=card.flow_id,
    )


def _mapping(identity: Identity | None) -> MappedAs:
    if identity is None or (identity.principal_arn is None and identity.iam_user is None):
        return MappedAs.NONE
    if identity.principal_arn is None:
        return MappedAs.IAM_USER_ONLY
    return MappedAs.APPROVER
