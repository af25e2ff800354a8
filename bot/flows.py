"""Multi-level flows (flow B): start a level's approval, keep the flow's thread, close its task."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec

from bot import views
from bot.approvals import ApprovalService, Placement, mapped_people
from bot.concurrency import together
from bot.errors import (
    ApprovalNotFound,
    InvalidPayload,
    InvalidRequest,
    ServiceError,
    SignoffError,
    TransientError,
)
from bot.gateways.automation import Automation
from bot.gateways.flowstore import (
    FlowItem,
    FlowStore,
    LevelItem,
    Membership,
    TaskClaim,
)
from bot.gateways.slack import PostKey, PostUnconfirmed, Slack, reply_key
from bot.gateways.stepfunctions import StepFunctions, TaskClosed
from bot.gateways.tables import AuditLog, IdentityStore
from bot.models import Approval, CardRef, Outcome, Verdict
from bot.payload import MISSING, Fields, Secret, kind

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ChannelFor = Callable[[str | None, str | None], str]

# The document parameter that carries a level's handle: an opaque id of the task in Signoff's
# table. The token itself never goes to SSM, where ssm:GetAutomationExecution shows parameters.
HANDLE_PARAMETER = "SignoffHandle"
# Where executions started before handles carry their token (an upgrade's in-flight levels).
TOKEN_PARAMETER = "SfnToken"  # noqa: S105 - the document parameter's name, not a secret
INVALID_INPUT = "Signoff.InvalidInput"
# What Step Functions is told when a level's approval ends without a decision.
TASK_ERRORS = {
    Outcome.TIMED_OUT: "Signoff.ApprovalTimedOut",
    Outcome.CANCELLED: "Signoff.ApprovalCancelled",
    Outcome.FAILED: "Signoff.ApprovalFailed",
}
MAX_LEVELS = 20
_REFUSED = "refused"  # a task whose approval SSM would not start (its task already failed)
# A claim older than this belongs to an invocation that died (Lambda timeouts are far shorter).
_STALE_CLAIM = timedelta(minutes=2)
# How a parent execution that ended without our result shows on the root message.
_ENDED = {"FAILED": Outcome.FAILED, "TIMED_OUT": Outcome.TIMED_OUT, "ABORTED": Outcome.CANCELLED}
_MAX_RENDERS = 5
_HANDLE = re.compile(r"^[A-Za-z0-9_-]{32}$")  # secrets.token_urlsafe(24)
_ROOT_UNCONFIRMED = "root-unconfirmed"  # a root post that went unanswered, so may have landed


class InvalidFlowInput(SignoffError):
    """The child state machine sent a payload Signoff cannot start an approval from."""


# -- the payload ---------------------------------------------------------------------------------

_LEVEL_FIELD = re.compile(r"^level\d+_")
_EXECUTION_ARN = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:\s]+:[^:\s]+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:(?P<name>[A-Za-z0-9_-]{1,256})$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_APPROVER = re.compile(
    r"^(?:[\w+=,.@-]{1,64}"
    r"|arn:aws[a-z-]*:iam::\d{12}:(?:user|role)/[\w+=,.@/-]{1,512}"
    r"|arn:aws[a-z-]*:sts::\d{12}:assumed-role/[\w+=,.@-]{1,64}/[\w+=,.@-]{2,64})$"
)

# What each payload key must hold, said in every refusal that names it.
EXPECTED = {
    "token": "the task token (`token.$: $$.Task.Token`), 1 to 2048 characters",
    "flow_id": "the parent execution ARN (`flow_id.$: "
    "$$.Execution.Input.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID`), "
    "arn:aws:states:<region>:<account>:execution:<state machine>:<name>",
    "level": "this level's number, a whole number from 1 to `levels`",
    "levels": f"how many levels the flow has, a whole number from 1 to {MAX_LEVELS}",
    "step": "the state's name (`step.$: $$.State.Name`), text",
    "ssm_doc_name": "the name of Signoff's approval document, or nothing",
    "ssm_automation_assume_role": "an IAM role ARN for Automation to run as, or empty",
    "ssm_description": "text, at most 1024 characters",
    "ssm_message": "text, at most 4096 characters (the aws:approve limit)",
    "confirmation_url": "text (the page the approvers review)",
    "confirmation_file": "text (the file the approvers review)",
    "ssm_notification_arn": "an SNS topic ARN whose name starts with `Automation` "
    "(SSM's service role may publish only to those)",
    "ssm_approvers": "1 to 10 approvers (IAM user names, user ARNs, role ARNs or assumed-role "
    'ARNs) as a list, a JSON list string such as ["a","b"], or a comma-separated string',
    "ssm_min_required_approvals": "a whole number of approvals from 1 to 10",
}


class StartApprovalRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The child state machine's `lambda:invoke.waitForTaskToken` payload for one level.

    The keys are the seed's (token, step, ssm_*) plus flow_id, level and levels; other keys the
    state machine passes along (region, confirmation_url, …) are ignored. Numbers may come as
    numeric strings ("1"), as CloudFormation parameters do.
    """

    token: Secret
    flow_id: str
    levels: int
    level: int
    step: str = ""
    ssm_doc_name: str | None = None
    ssm_automation_assume_role: str = ""
    ssm_description: str = ""
    ssm_message: str = ""
    ssm_notification_arn: str
    ssm_approvers: tuple[str, ...]
    ssm_min_required_approvals: int

    @classmethod
    def from_event(cls, event: object) -> StartApprovalRequest:
        """Read and check the payload; InvalidPayload names every bad key, in this order."""
        event = _with_level(event)
        fields = Fields(event)
        token = fields.text("token", rule=_token_length)
        flow_id = fields.text("flow_id", rule=_flow_arn)
        levels = fields.whole_number("levels", low=1, high=MAX_LEVELS)
        level = fields.whole_number("level", low=1, high=MAX_LEVELS)
        if fields.ok("levels", "level") and level > levels:
            fields.problem("level", f"is {level}, beyond levels ({levels})")
        request = cls(
            token=Secret(token),
            flow_id=flow_id,
            levels=levels,
            level=level,
            step=fields.text("step", "", max_length=256),
            ssm_doc_name=fields.optional_text("ssm_doc_name"),
            ssm_automation_assume_role=fields.text("ssm_automation_assume_role", "", rule=_role),
            ssm_description=fields.text("ssm_description", "", max_length=1024),
            ssm_message=fields.text("ssm_message", "", max_length=4096),
            ssm_notification_arn=fields.text("ssm_notification_arn", rule=_topic),
            ssm_approvers=fields.parsed("ssm_approvers", _approvers, ()),
            ssm_min_required_approvals=fields.whole_number(
                "ssm_min_required_approvals", low=1, high=10
            ),
        )
        if fields.ok("levels", "level") and level == 1 and isinstance(event, Mapping):
            _check_later_levels(fields, event.get("flow_input"), levels)
        fields.check()
        return request

    @property
    def member(self) -> Membership:
        return Membership(flow_id=self.flow_id, level=self.level, levels=self.levels)


def _with_level(event: object) -> object:
    """The payload with its flow, level and levels, read from the child's input if not given.

    Signoff's child passes its own id and input (`execution_id`, `execution_input`) rather
    than reading level keys that a caller may not pass: seed 000's parent, for one, passes
    none. Such a caller gets a one-level approval of its own (the child's execution is its
    flow), not levels of a flow that would each claim to be its first and last.
    """
    if not isinstance(event, Mapping) or "level" in event:
        return event  # the flow's keys given directly (or nothing to read them from)
    given = event.get("execution_input")
    if not isinstance(given, Mapping):
        return event
    merged = dict(event)
    if "level" in given:
        merged["flow_id"] = given.get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")
        merged["level"] = given["level"]
        merged["levels"] = given.get("levels")
        if "flow_input" in given:
            merged["flow_input"] = given["flow_input"]
    else:
        merged |= {"flow_id": event.get("execution_id"), "level": 1, "levels": 1}
    return {k: v for k, v in merged.items() if v is not None}


# What the parent reads for each level (`levelN_<key>` in the flow's input).
_LEVEL_KEYS = (
    "ssm_notification_arn",
    "ssm_approvers",
    "ssm_min_required_approvals",
    "confirmation_url",
    "confirmation_file",
)


def _check_later_levels(fields: Fields, flow_input: object, levels: int) -> None:
    """At level 1, refuse a flow whose later levels could not start, before anyone decides.

    The parent passes its whole input to level 1 (`flow_input`). A later level's key that is
    missing would fail the parent (States.Runtime) and a bad one would fail that level, both
    only after the levels before it were approved.
    """
    if not isinstance(flow_input, Mapping):
        return  # not passed (another caller, or a parent deployed before this check)
    later = Fields(flow_input)
    for n in range(2, levels + 1):
        later.text(f"level{n}_ssm_notification_arn", rule=_topic)
        later.parsed(f"level{n}_ssm_approvers", _approvers, tuple[str, ...]())
        later.whole_number(f"level{n}_ssm_min_required_approvals", low=1, high=10)
        later.text(f"level{n}_confirmation_url")
        later.text(f"level{n}_confirmation_file")
    try:
        later.check()
    except InvalidPayload as bad:
        for field, problem in bad.problems:
            fields.problem(field, problem)


def _token_length(value: str) -> None:
    if not 1 <= len(value) <= 2048:
        raise ValueError("must be 1 to 2048 characters")


def _flow_arn(value: str) -> None:
    if not _EXECUTION_ARN.match(value):
        raise ValueError("is not a Step Functions execution ARN")


def _topic(value: str) -> None:
    match = _TOPIC_ARN.match(value)
    if not match:
        raise ValueError("is not an SNS topic ARN")
    if not match.group("name").startswith("Automation"):
        raise ValueError(f"names the topic {match.group('name')!r}, not an Automation* one")


def _role(value: str) -> None:
    if value and not _ROLE_ARN.match(value):
        raise ValueError("is not an IAM role ARN")


def _approvers(value: object) -> tuple[str, ...]:
    names = split_approvers(value)
    if not names:
        raise ValueError("names no approver")
    if len(names) > 10:
        raise ValueError(f"names {len(names)} approvers, more than 10")
    odd = [a for a in names if not _APPROVER.match(a)]
    if odd:
        raise ValueError(f"has entries that are neither IAM names nor ARNs: {odd[:3]}")
    return tuple(names)


def split_approvers(value: object) -> list[str]:
    """Approvers as a list, a JSON list string, or a comma-separated string → a list of names."""
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return [part.strip() for part in text.split(",") if part.strip()]
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValueError("looks like a JSON list but does not parse") from exc
    if not isinstance(value, list | tuple):
        raise ValueError(f"is {kind(value)}, not a list or text")
    names = [v for v in value if isinstance(v, str)]
    if len(names) != len(value):
        raise ValueError("is a list holding something other than text")
    return [name.strip() for name in names if name.strip()]


def describe_invalid_input(error: InvalidPayload) -> str:
    """A cause that names each bad field and says what it must hold (never the token)."""
    problems: list[str] = []
    for field, problem in error.problems:
        if not field:
            problems.append("the payload is not a JSON object of the keys below")
            continue
        if field == "token" and problem != MISSING:
            what = "token is not a usable task token"
        else:
            what = f"{field} {problem}"
        expected = EXPECTED.get(_LEVEL_FIELD.sub("", field))
        problems.append(f"{what}; expected {expected}" if expected else what)
    cause = "Signoff cannot start this approval: " + "; ".join(problems) + "."
    if any(_LEVEL_FIELD.match(field) for field, _ in error.problems):
        cause += (
            " No level was started. Add or fix them in the flow's input and start the flow "
            "again (the stack's StepFunctionsInputExample output shows every key)."
        )
    return cause


def root_key(flow_id: str) -> PostKey:
    """What a flow's root message is known by in Slack (its message metadata)."""
    return PostKey(f"flow#{flow_id}")


def pointer_key(execution_id: str) -> PostKey:
    """What a level's pointer message is known by in Slack (its message metadata)."""
    return PostKey(f"pointer#{execution_id}")


def task_key(token: str) -> str:
    """What the tables know a task token by: its SHA-256, never the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- the flow's records, thread and task, kept in step with its approvals ------------------------


class FlowTracker:
    """ApprovalService's flow hooks: where a flow level's card goes, and what follows a change.

    Whenever Signoff reads an approval anew (card posted, decision, EventBridge event,
    reconciler), `complete` runs first: it completes the Step Functions task of a closed approval
    exactly once, before any Slack call, so no flow waits on Slack. `observe` runs last, after the
    card's own messages: it moves the ladder on and says how the flow ended.
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
        self._slack = slack
        self._audit = audit
        self._channel_for = channel_for
        self._now = now
        self._document = document

    # -- hooks ---------------------------------------------------------------------------------

    def placement(self, approval: Approval) -> Placement | None:
        """The flow's thread for a level's card; None for an approval that is in no flow."""
        member = self.membership(approval)
        if member is None:
            return None
        flow = self._flows.flow(member.flow_id)
        return self.place(flow, member.level) if flow else None

    def complete(self, approval: Approval) -> None:
        """Complete a closed approval's Step Functions task, once however often it is called."""
        self._completion(approval, self.bound(approval))

    def observe(self, approval: Approval) -> None:
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
        if self._flows.record_level(_snapshot(flow.flow_id, member.level, approval, channel)):
            self._flows.bump(flow.flow_id)
        if not approval.outcome.is_open:
            self._conclude(flow, member, approval, closed_code)
        self.ensure_root(flow)
        self.render(flow.flow_id)
        self._sync_pointer(flow.flow_id, member.level, approval.execution_id)

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

    def place(self, flow: FlowItem, level: int) -> Placement:
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
        if not self._flows.claim_root(flow.flow_id, self._now() - _STALE_CLAIM):
            latest = self._flows.flow(flow.flow_id)
            if latest and latest.root:
                return latest.root
            # Posting, or a post that went unanswered and may have landed: look before waiting.
            found = self._slack.find_posted((latest or flow).channel, key)
            if found is None:
                raise TransientError("Another invocation is posting this flow's root message.")
            self._root_posted(latest or flow, found)
            return found
        current = self._flows.flow(flow.flow_id) or flow
        try:
            # A claim taken over from a post that went unanswered: that post may have landed.
            found = (
                self._slack.find_posted(current.channel, key)
                if self._was_unconfirmed(flow.flow_id)
                else None
            )
            if found is not None:
                self._root_posted(current, found)
                return found
            state = self._flow_state(current, self._flows.levels(flow.flow_id))
            ref = self._slack.post(
                current.channel, views.flow_root_text(state), views.flow_root(state), key=key
            )
        except PostUnconfirmed:
            # It may be in the channel: the claim stays, marked, and the next call looks for it.
            self._flows.claim(flow.flow_id, _ROOT_UNCONFIRMED)
            raise
        except Exception:
            self._flows.release_root(flow.flow_id)
            raise
        self._root_posted(current, ref)
        return ref

    def _was_unconfirmed(self, flow_id: str) -> bool:
        # FlowStore keeps one-time claims only: taking the mark tells whether it was there.
        if self._flows.claim(flow_id, _ROOT_UNCONFIRMED):
            self._flows.release(flow_id, _ROOT_UNCONFIRMED)
            return False
        return True

    def _root_posted(self, flow: FlowItem, ref: CardRef) -> None:
        # The poster and an invocation that found its message may both get here: record it once.
        if not self._flows.claim(flow.flow_id, f"root#{ref.ts}"):
            return
        try:
            self._flows.set_root(flow.flow_id, ref)
        except Exception:
            self._flows.release(flow.flow_id, f"root#{ref.ts}")
            raise
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

    def state(self, flow_id: str) -> views.FlowState | None:
        flow = self._flows.flow(flow_id)
        return self._flow_state(flow, self._flows.levels(flow_id)) if flow else None

    def _flow_state(self, flow: FlowItem, levels: list[LevelItem]) -> views.FlowState:
        """The flow as its views show it; a decider is a person only by Signoff's mapping."""
        deciders = [p for item in levels for p in (*item.approved_by, *item.rejected_by)]
        return _state(flow, levels, mapped_people(self._identities, deciders))

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
        if not self._flows.claim_completion(execution_id, self._now() - _STALE_CLAIM):
            return self._flows.completion_closed_code(execution_id)
        subject = member.flow_id
        level = member.level
        try:
            if approval.outcome is Outcome.APPROVED or approval.outcome is Outcome.REJECTED:
                people = self._proven_people(approval)
                self._sfn.send_task_success(token, task_output(approval, level, people))
                sent = "success"
            else:
                error = TASK_ERRORS[approval.outcome]
                self._sfn.send_task_failure(token, error, task_cause(approval, level))
                sent = error
        except TaskClosed as closed:
            self._flows.finish_completion(execution_id, closed_code=closed.code)
            # Not an error: someone (a timeout, a stop, an earlier event) closed it before us.
            logger.info(
                "task already closed; result not delivered",
                extra={"execution_id": execution_id, "level": level, "code": closed.code},
            )
            self._audit.append(
                subject, "task_closed_before_result", execution_id=execution_id, code=closed.code
            )
            return closed.code
        except Exception:
            # Let the next event (EventBridge retries, the reconciler) try again.
            self._flows.release_completion(execution_id)
            raise
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

    # -- the flow's outcome and the level pointers ------------------------------------------------

    def _conclude(
        self, flow: FlowItem, member: Membership, approval: Approval, closed_code: str | None
    ) -> None:
        if closed_code is not None:
            self._say_late(flow, member, approval, closed_code)
            return
        outcome = flow_outcome_after(approval.outcome, member.level, flow.levels)
        if outcome is None or not self._flows.claim(flow.flow_id, "outcome"):
            return
        root = self.ensure_root(flow)
        base = self.state(flow.flow_id) or self._flow_state(flow, [])
        state = msgspec.structs.replace(base, outcome=outcome)
        try:
            self._slack.reply(
                root,
                views.flow_outcome_text(state, TASK_ERRORS.get(outcome)),
                key=reply_key(flow.flow_id, "outcome"),
            )
        except Exception:
            self._flows.release(flow.flow_id, "outcome")
            raise
        self._flows.set_outcome(flow.flow_id, outcome)
        self._audit.append(flow.flow_id, "flow_outcome", outcome=outcome.value, level=member.level)

    def _say_late(self, flow: FlowItem, member: Membership, approval: Approval, code: str) -> None:
        if not self._flows.claim(flow.flow_id, f"late#{approval.execution_id}"):
            return
        try:
            execution = self._sfn.describe_execution(flow.flow_id)
        except ServiceError:
            execution = None
        status = execution.status if execution else None
        level = _level_state(member.level, approval)
        try:
            self._slack.reply(
                self.ensure_root(flow),
                views.late_result_text(level, flow.levels, code, status),
                key=reply_key(flow.flow_id, f"late#{approval.execution_id}"),
            )
        except Exception:
            self._flows.release(flow.flow_id, f"late#{approval.execution_id}")
            raise
        ended = _ENDED.get(status or "")
        if ended is not None and self._flows.claim(flow.flow_id, "outcome"):
            self._flows.set_outcome(flow.flow_id, ended)

    def _sync_pointer(self, flow_id: str, level: int, execution_id: str) -> None:
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
        claim, key = f"pointer#{execution_id}", pointer_key(execution_id)
        ts = item.pointer_ts
        if ts is None and item.outcome is Outcome.WAITING and self._flows.claim(flow_id, claim):
            link = self._thread_link(root)
            try:
                ref = self._slack.post(
                    item.channel,
                    views.level_pointer_text(state, shown, root.channel, link),
                    views.level_pointer(state, shown, root.channel, link),
                    key=key,
                )
            except PostUnconfirmed:
                # It may be in the channel: the claim stays, and a later look adopts it.
                raise
            except Exception:
                self._flows.release(flow_id, claim)
                raise
            self._flows.set_pointer(flow_id, level, ref.ts)
            return
        if ts is None:
            # Being posted by another invocation, or posted without an answer: look for it.
            ts = self._adopt_pointer(flow_id, level, item.channel, key)
        closed = f"pointer-closed#{execution_id}"
        if ts is None or item.outcome is Outcome.WAITING or not self._flows.claim(flow_id, closed):
            return
        link = self._thread_link(root)
        try:
            self._slack.update(
                CardRef(item.channel, ts),
                views.level_pointer_text(state, shown, root.channel, link),
                views.level_pointer(state, shown, root.channel, link),
            )
        except Exception:
            self._flows.release(flow_id, closed)
            raise

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


# -- starting a level ------------------------------------------------------------------------------


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
        claim = self._flows.claim_task(key, request.member, handle, self._now() - _STALE_CLAIM)
        if claim is not TaskClaim.WON:
            # A retried invocation: the first one started (or is starting) the approval.
            known = self._flows.task(key)
            execution_id = known.execution_id if known else None
            logger.info(
                "approval already started for this task",
                extra={"flow_id": request.flow_id, "level": request.level},
            )
            return {"result": f"already_{claim.value}", "execution_id": execution_id or ""}
        level_channel = self._channel_for(request.ssm_notification_arn, self._document)
        self._flows.create_flow(
            FlowItem(
                flow_id=request.flow_id,
                levels=request.levels,
                # The thread lives where level 1 is decided; a flow first seen later, in default.
                channel=level_channel if request.level == 1 else self._default_channel,
                name=views.flow_name(request.flow_id),
                description=request.ssm_description,
            )
        )
        # The token is recorded, bound to this level and pending, before anything starts.
        self._flows.put_handle(handle, token, request.member)
        try:
            execution_id = self._automation.start(self._document, _parameters(request, handle))
        except InvalidRequest as refused:
            try:
                result = self.refuse(
                    token, f"Signoff cannot start this approval: {refused}", request.flow_id
                )
            except Exception:
                self._release(key, handle)
                raise
            self._flows.finish_task(key, _REFUSED)
            self._flows.release_handle(handle)
            return result
        except Exception:
            self._release(key, handle)
            raise
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

    def _release(self, key: str, handle: str) -> None:
        self._flows.release_handle(handle)
        self._flows.release_task(key)

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
        given = _with_level(event)
        raw = given if isinstance(given, Mapping) else {}
        token = raw.get("token")
        usable = isinstance(token, str) and 1 <= len(token) <= 2048
        flow_id = raw.get("flow_id")
        return self.refuse(
            token if usable else None,
            describe_invalid_input(error),
            flow_id if isinstance(flow_id, str) and _EXECUTION_ARN.match(flow_id) else None,
        )


# -- pure rules --------------------------------------------------------------------------------


def flow_outcome_after(outcome: Outcome, level: int, levels: int) -> Outcome | None:
    """How the whole flow ends when `level` ends so; None while later levels still run."""
    if outcome is Outcome.WAITING:
        return None
    if outcome is Outcome.APPROVED:
        return Outcome.APPROVED if level >= levels else None
    return outcome


def task_output(
    approval: Approval, level: int | None, people: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The task's result: what the child's Choice reads (`is_approved`) and who decided.

    `decided_by` holds the principals as SSM recorded them; `slack_users` maps those of them
    that Signoff's mapping proves to be a person (`people`, see bot.approvals.mapped_people) to
    their Slack user id. A session merely named like a Slack id gets no entry there.
    """
    decided_by: dict[str, None] = {}
    for decision in approval.decisions:
        decided_by.setdefault(decision.principal)
    people = people or {}
    return {
        "is_approved": approval.outcome is Outcome.APPROVED,
        "decided_by": list(decided_by),
        "slack_users": {p: people[p] for p in decided_by if p in people},
        "comments": [d.comment for d in approval.decisions if d.comment],
        "decisions": [
            {"principal": d.principal, "verdict": d.verdict.value, "comment": d.comment}
            for d in approval.decisions
        ],
        "approval_execution_id": approval.execution_id,
        "level": level,
    }


def task_cause(approval: Approval, level: int | None) -> str:
    """Why a level's task fails, in words a person reading the execution can act on."""
    done, needed = approval.progress
    what = f"The level {level} approval" if level else "The approval"
    where = f"(SSM Automation execution {approval.execution_id}, step {approval.step_name})"
    how = {
        Outcome.TIMED_OUT: f"timed out with {done} of {needed} approvals; nobody decided in time",
        Outcome.CANCELLED: "was cancelled (the automation was stopped) before a decision",
    }.get(approval.outcome, "failed before a decision; see the execution in the SSM console")
    return f"{what} {where} {how}. {approval.console_url}"


def _parameters(request: StartApprovalRequest, handle: str) -> dict[str, list[str]]:
    parameters = {
        "Description": [request.ssm_description],
        "Message": [request.ssm_message],
        "NotificationArn": [request.ssm_notification_arn],
        "Approvers": list(request.ssm_approvers),
        "MinRequiredApprovals": [str(request.ssm_min_required_approvals)],
        HANDLE_PARAMETER: [handle],
    }
    if request.ssm_automation_assume_role:
        parameters["AutomationAssumeRole"] = [request.ssm_automation_assume_role]
    # SSM rejects empty strings for parameters; leave them to the document's defaults.
    return {k: v for k, v in parameters.items() if all(v)}


def _snapshot(flow_id: str, level: int, approval: Approval, channel: str) -> LevelItem:
    done, needed = approval.progress
    return LevelItem(
        flow_id=flow_id,
        level=level,
        execution_id=approval.execution_id,
        outcome=approval.outcome,
        rank=approval.rank,
        done=done,
        needed=needed,
        approved_by=approval.approved_by,
        rejected_by=_rejecters(approval),
        channel=channel,
    )


def _rejecters(approval: Approval) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for decision in approval.decisions:
        if decision.verdict is Verdict.REJECT:
            seen.setdefault(decision.principal)
    return tuple(seen)


def _level_state(level: int, approval: Approval) -> views.LevelState:
    done, needed = approval.progress
    return views.LevelState(
        level=level,
        outcome=approval.outcome,
        done=done,
        needed=needed,
        approved_by=approval.approved_by,
        rejected_by=_rejecters(approval),
    )


def _state(flow: FlowItem, levels: list[LevelItem], people: dict[str, str]) -> views.FlowState:
    by_level = {item.level: item for item in levels}
    shown: list[views.LevelState] = []
    for number in range(1, flow.levels + 1):
        item = by_level.get(number)
        shown.append(
            views.LevelState(
                level=number,
                outcome=item.outcome,
                done=item.done,
                needed=item.needed,
                approved_by=item.approved_by,
                rejected_by=item.rejected_by,
            )
            if item
            else views.LevelState(level=number)
        )
    return views.FlowState(
        flow_id=flow.flow_id,
        levels=tuple(shown),
        description=flow.description,
        outcome=flow.outcome,
        people=people,
    )
