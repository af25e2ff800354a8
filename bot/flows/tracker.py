"""The flow side of every approval read: which flow a card is in, its task completed once."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime

from bot.approvals import Placement, mapped_people
from bot.errors import ServiceError
from bot.flows.rules import (
    HANDLE_PARAMETER,
    STALE_CLAIM,
    TASK_ERRORS,
    TOKEN_PARAMETER,
    snapshot,
    task_cause,
    task_key,
    task_output,
)
from bot.flows.thread import FlowThread
from bot.gateways.claims import once
from bot.gateways.flowstore import FlowStore, Membership
from bot.gateways.slack import Slack
from bot.gateways.stepfunctions import StepFunctions, TaskClosed
from bot.gateways.tables import AuditLog, IdentityStore
from bot.models import Approval, Outcome

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ChannelFor = Callable[[str | None, str | None], str]

_HANDLE = re.compile(r"^[A-Za-z0-9_-]{32}$")  # secrets.token_urlsafe(24)


class FlowTracker:
    """ApprovalService's flow hooks: where a flow level's card goes, and what follows a change.

    Whenever Signoff reads an approval anew (card posted, decision, EventBridge event,
    reconciler), `complete` runs first: it completes the Step Functions task of a closed approval
    exactly once, before any Slack call, so no flow waits on Slack. `observe` runs last, after the
    card's own messages: it moves the ladder on and says how the flow ended (in `thread`).
    """

    def __init__(
        self,
        *,
        flows: FlowStore,
        identities: IdentityStore,
        sfn: StepFunctions,
        slack: Slack,
        audit: AuditLog,
        channel_for: ChannelFor,
        now: Clock,
        document: str,
    ) -> None:
        self._flows = flows
        self._identities = identities
        self._sfn = sfn
        self._audit = audit
        self._channel_for = channel_for
        self._now = now
        self._document = document
        self.thread = FlowThread(
            flows=flows, identities=identities, sfn=sfn, slack=slack, audit=audit, now=now
        )

    # -- hooks ---------------------------------------------------------------------------------

    def placement(self, approval: Approval) -> Placement | None:
        """The flow's thread for a level's card; None for an approval that is in no flow."""
        member = self.membership(approval)
        if member is None:
            return None
        flow = self._flows.flow(member.flow_id)
        return self.thread.place(flow, member.level) if flow else None

    def complete(self, approval: Approval) -> None:
        """Complete a closed approval's Step Functions task, once however often it is called."""
        self._completion(approval, self.bound(approval))

    def observe(self, approval: Approval) -> None:
        """Record the level's latest state, then bring the flow's thread up to it."""
        bound = self.bound(approval)
        closed_code = self._completion(approval, bound)
        if bound is None:
            return
        member = bound
        flow = self._flows.flow(member.flow_id)
        if flow is None:
            logger.warning("flow record missing", extra={"flow_id": member.flow_id})
            return
        channel = self.level_channel(approval)
        if self._flows.record_level(snapshot(flow.flow_id, member.level, approval, channel)):
            self._flows.bump(flow.flow_id)
        if not approval.outcome.is_open:
            self.thread.conclude(flow, member, approval, closed_code)
        self.thread.ensure_root(flow)
        self.thread.render(flow.flow_id)
        self.thread.sync_pointer(flow.flow_id, member.level, approval.execution_id)

    # -- what the hooks and FlowService share ------------------------------------------------------

    def membership(self, approval: Approval) -> Membership | None:
        """Where an approval's card goes: its flow and level, if Signoff started it for one.

        By the execution Signoff recorded after starting it; else, while that record is not
        written yet (an SNS notice can race the start), by its pending handle. That only places
        a card: nothing is completed or recorded for an approval until `bound` says so.
        """
        if not self._may_be_flows(approval):
            return None
        member = self._flows.member(approval.execution_id)
        if member is not None:
            return member
        handle = approval.parameter(HANDLE_PARAMETER)
        task = self._flows.handle(handle) if handle and _HANDLE.match(handle) else None
        if task is None or task.execution_id not in {None, approval.execution_id}:
            return None  # no such task, or it is another execution's
        return task.member

    def bound(self, approval: Approval) -> Membership | None:
        """The level of an approval Signoff started for it; else None.

        Only Signoff's own record decides: the execution id its StartAutomationExecution
        returned (`EXEC#<id>`, written by nobody else). Nothing an execution carries
        (parameters, outputs, tags) counts on its own, so someone else's execution, of any
        document, with a copied handle or a stolen token, is in no flow and completes nothing.
        """
        if not self._may_be_flows(approval):
            return None
        return self._flows.member(approval.execution_id)

    def _task_token(self, approval: Approval, member: Membership) -> str | None:
        """The level's token, from Signoff's table, for the execution bound to its handle."""
        execution_id = approval.execution_id
        if member.handle:
            task = self._flows.handle(member.handle)
            if task is None or task.execution_id != execution_id:
                return None
            return task.token.get_secret_value()
        # Started before handles: its SfnToken counts only as the token Signoff recorded (by
        # hash) for this very execution.
        token = approval.parameter(TOKEN_PARAMETER)
        known = self._flows.task(task_key(token)) if token else None
        if token is None or known is None or known.execution_id != execution_id:
            return None
        return token

    def _may_be_flows(self, approval: Approval) -> bool:
        # FlowService starts only Signoff's document, always with a handle (before handles:
        # with the token): anything else is in no flow, and nothing is read to say so.
        return approval.document_name == self._document and bool(
            approval.parameter(HANDLE_PARAMETER) or approval.parameter(TOKEN_PARAMETER)
        )

    def level_channel(self, approval: Approval) -> str:
        return self._channel_for(approval.notification_arn, approval.document_name)

    # -- the Step Functions task -------------------------------------------------------------------

    def _completion(self, approval: Approval, member: Membership | None) -> str | None:
        # Safe to repeat: a task already completed is not sent twice, and how that went (the
        # code, when Step Functions had stopped waiting) is read back.
        if approval.outcome.is_open:
            return None
        token = self._task_token(approval, member) if member else None
        if member is None or token is None:
            if approval.parameter(HANDLE_PARAMETER) or approval.parameter(TOKEN_PARAMETER):
                # A handle or token Signoff did not start this execution with: copied, stolen.
                logger.warning(
                    "not completing a task for an execution Signoff did not start for it",
                    extra={"execution_id": approval.execution_id},
                )
            return None
        return self._complete(approval, token, member)

    def _complete(self, approval: Approval, token: str, member: Membership) -> str | None:
        """Tell Step Functions how the level ended, once; the closed code if it stopped waiting."""
        execution_id = approval.execution_id
        subject = member.flow_id
        level = member.level

        def send() -> TaskClosed | str:
            try:
                if approval.outcome is Outcome.APPROVED or approval.outcome is Outcome.REJECTED:
                    people = self._proven_people(approval)
                    self._sfn.send_task_success(token, task_output(approval, level, people))
                    return "success"
                error = TASK_ERRORS[approval.outcome]
                self._sfn.send_task_failure(token, error, task_cause(approval, level))
                return error
            except TaskClosed as closed:
                return closed

        # Any other failure gives the claim back: the next event (EventBridge retries, the
        # reconciler) tries again. What happens after the send never does: sent is sent.
        claims = self._flows.completion_claims(self._now() - STALE_CLAIM)
        ran = once(claims, self._flows.completion_claim(execution_id), send)
        if ran is None:
            return self._flows.completion_closed_code(execution_id)
        sent = ran.value
        if isinstance(sent, TaskClosed):
            self._flows.finish_completion(execution_id, closed_code=sent.code)
            # Not an error: someone (a timeout, a stop, an earlier event) closed it before us.
            logger.info(
                "task already closed; result not delivered",
                extra={"execution_id": execution_id, "level": level, "code": sent.code},
            )
            self._audit.append(
                subject, "task_closed_before_result", execution_id=execution_id, code=sent.code
            )
            return sent.code
        self._flows.finish_completion(execution_id)
        logger.info(
            "task completed",
            extra={"execution_id": execution_id, "level": level, "sent": sent},
        )
        self._audit.append(
            subject,
            "task_completed",
            execution_id=execution_id,
            level=level,
            outcome=approval.outcome.value,
            sent=sent,
        )
        return None

    def _proven_people(self, approval: Approval) -> dict[str, str]:
        # Only informs whoever reads the task's output: a mapping that cannot be read now must
        # not hold the flow up, and then the output names nobody (never more than is proven).
        try:
            return mapped_people(self._identities, [d.principal for d in approval.decisions])
        except ServiceError:
            logger.warning(
                "identities not read; the task's output names no Slack users",
                exc_info=True,
                extra={"execution_id": approval.execution_id},
            )
            return {}
