"""Flow B's entry: start one level's approval for a waiting Step Functions task."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.approvals import ApprovalService
from bot.concurrency import together
from bot.errors import ApprovalNotFound, InvalidPayload, InvalidRequest, ServiceError, SignoffError
from bot.flows.payload import (
    INVALID_INPUT,
    StartApprovalRequest,
    describe_invalid_input,
    refusal_route,
)
from bot.flows.rules import STALE_CLAIM, start_parameters, task_key
from bot.gateways.automation import Automation
from bot.gateways.claims import once
from bot.gateways.flowstore import FlowItem, FlowStore, Membership
from bot.gateways.stepfunctions import StepFunctions, TaskClosed
from bot.gateways.tables import AuditLog
from bot.models import flow_name

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ChannelFor = Callable[[str | None, str | None], str]

_REFUSED = "refused"  # a task whose approval SSM would not start (its task already failed)


class InvalidFlowInput(SignoffError):
    """The child state machine sent a payload Signoff cannot start an approval from."""


class FlowService:
    """Flow B's entry: the child state machine asks for one level's approval.

    Keeps the task token in Signoff's table under a random handle, starts Signoff's approval
    document with the handle as `SignoffHandle` (SSM never sees the token), and binds the
    handle to the execution id the start returned: only that execution completes the task.
    Bad input fails the task at once with `Signoff.InvalidInput`, so the flow never waits on an
    approval that cannot exist.

    It calls no Slack: the level's card (and the flow's root message) come from flow A, as for
    every approval: the step's SNS notice, its EventBridge "Waiting" event or the reconciler,
    whichever comes first (FlowTracker.placement puts it in the flow's thread). Step Functions
    waits on this function; it never waits on Slack's pace.
    """

    def __init__(
        self,
        *,
        approvals: ApprovalService,
        automation: Automation,
        sfn: StepFunctions,
        flows: FlowStore,
        audit: AuditLog,
        document: str,
        default_channel: str,
        channel_for: ChannelFor,
        now: Clock,
    ) -> None:
        self._approvals = approvals
        self._automation = automation
        self._sfn = sfn
        self._flows = flows
        self._audit = audit
        self._document = document
        self._default_channel = default_channel
        self._channel_for = channel_for
        self._now = now

    def start(self, request: StartApprovalRequest) -> dict[str, Any]:
        """Start the level's approval once per task token; post its card in the flow's thread."""
        token = request.token.get_secret_value()
        if request.ssm_doc_name and request.ssm_doc_name != self._document:
            return self.refuse(
                token,
                f"Signoff cannot start this approval: ssm_doc_name is {request.ssm_doc_name!r}; "
                f"expected {self._document!r}, the approval document this function may start: "
                f'set ssm_doc_name to "{self._document}" or to "" in the flow\'s input '
                "(the stack's ApprovalDocumentName output names it).",
                request.flow_id,
            )
        key = task_key(token)
        handle = secrets.token_urlsafe(24)
        level_channel = self._channel_for(request.ssm_notification_arn, self._document)

        def begin() -> str | dict[str, Any]:
            """The started execution's id, or the refusal SSM's answer led to."""
            self._flows.create_flow(
                FlowItem(
                    flow_id=request.flow_id,
                    levels=request.levels,
                    # The thread lives where level 1 is decided; a flow first seen later, in
                    # the default channel.
                    channel=level_channel if request.level == 1 else self._default_channel,
                    name=flow_name(request.flow_id),
                    description=request.ssm_description,
                )
            )
            # The token is recorded, bound to this level and pending, before anything starts.
            self._flows.put_handle(handle, token, request.member)
            try:
                try:
                    return self._automation.start(self._document, start_parameters(request, handle))
                except InvalidRequest as refused:
                    return self.refuse(
                        token, f"Signoff cannot start this approval: {refused}", request.flow_id
                    )
            except Exception:
                # Nothing started (or its refusal was not delivered): a retry starts afresh.
                self._flows.release_handle(handle)
                raise

        # A claim whose start died mid-way (older than a Lambda runs) is taken over.
        claims = self._flows.task_claims(self._now() - STALE_CLAIM)
        ran = once(
            claims,
            self._flows.task_claim(key),
            begin,
            flow_id=request.flow_id,
            level=request.level,
            levels=request.levels,
            handle=handle,
        )
        if ran is None:
            # A retried invocation: the first one started (or is starting) the approval.
            known = self._flows.task(key)
            execution_id = known.execution_id if known else None
            logger.info(
                "approval already started for this task",
                extra={"flow_id": request.flow_id, "level": request.level},
            )
            state = "started" if execution_id else "busy"
            return {"result": f"already_{state}", "execution_id": execution_id or ""}
        if not isinstance(ran.value, str):
            # Refused (its task failed with the reason): this token starts nothing, ever.
            self._flows.finish_task(key, _REFUSED)
            self._flows.release_handle(handle)
            return ran.value
        execution_id = ran.value
        # Bound first: until it is, no event or reconciler pass can complete the task.
        self._flows.bind_handle(handle, execution_id)
        member = Membership(request.flow_id, request.level, request.levels, execution_id, handle)

        def show_level() -> None:
            if self._flows.start_level(
                request.flow_id,
                request.level,
                execution_id,
                request.ssm_min_required_approvals,
                level_channel,
            ):
                self._flows.bump(request.flow_id)

        # Four records of the started execution, none read by another's write: side by side,
        # Step Functions hears back after the slowest, not after all four.
        together(
            lambda: self._flows.put_member(execution_id, member),
            lambda: self._flows.finish_task(key, execution_id),
            show_level,
            lambda: self._audit.append(
                request.flow_id,
                "level_started",
                level=request.level,
                levels=request.levels,
                execution_id=execution_id,
                state=request.step,
                approvers=list(request.ssm_approvers),
                min_required=request.ssm_min_required_approvals,
            ),
        )
        return {
            "result": "started",
            "execution_id": execution_id,
            "flow_id": request.flow_id,
            "level": request.level,
        }

    def reconcile(self) -> dict[str, int]:
        """Re-read every level still shown as waiting, so no task waits on a lost event.

        The approval reconciler only sees executions still Waiting and cards still open; a level
        whose card was never posted (Slack was down) and whose status events were lost would be
        seen by neither, and its flow would wait for its own timeout.
        """
        counts = {"checked": 0, "failed": 0}
        for level in self._flows.open_levels():
            if not level.execution_id:
                continue
            try:
                self._approvals.refresh(level.execution_id)
                counts["checked"] += 1
            except (ServiceError, ApprovalNotFound):
                counts["failed"] += 1
                logger.exception(
                    "flow level sync failed",
                    extra={"flow_id": level.flow_id, "execution_id": level.execution_id},
                )
        return counts

    def refuse(self, token: str | None, cause: str, flow_id: str | None = None) -> dict[str, Any]:
        """Fail the waiting task with Signoff.InvalidInput and a cause a person can act on."""
        if not token:
            # Without a token nothing can be told to Step Functions: fail the invocation itself.
            raise InvalidFlowInput(cause)
        try:
            self._sfn.send_task_failure(token, INVALID_INPUT, cause)
        except TaskClosed as closed:
            logger.info("task already closed; refusal not delivered", extra={"code": closed.code})
        logger.warning("invalid approval request refused", extra={"cause": cause})
        if flow_id:
            self._audit.append(flow_id, "invalid_input", cause=cause)
        return {"result": "invalid_input", "error": INVALID_INPUT, "cause": cause}

    def refuse_payload(self, event: object, error: InvalidPayload) -> dict[str, Any]:
        """A payload that failed validation: refuse it through its token, if it has a usable one."""
        token, flow_id = refusal_route(event)
        return self.refuse(token, describe_invalid_input(error), flow_id)
