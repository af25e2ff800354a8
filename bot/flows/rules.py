"""Flow rules with no I/O: what a task is told, how a flow ends, what its ladder shows."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from bot.flows.payload import StartApprovalRequest
from bot.gateways.flowstore import FlowItem, LevelItem
from bot.gateways.slack import PostKey
from bot.models import Approval, FlowState, LevelState, Outcome, Verdict

# The document parameter that carries a level's handle: an opaque id of the task in Signoff's
# table. The token itself never goes to SSM, where ssm:GetAutomationExecution shows parameters.
HANDLE_PARAMETER = "SignoffHandle"
# Where executions started before handles carry their token (an upgrade's in-flight levels).
TOKEN_PARAMETER = "SfnToken"  # noqa: S105 - the document parameter's name, not a secret
# What Step Functions is told when a level's approval ends without a decision.
TASK_ERRORS = {
    Outcome.TIMED_OUT: "Signoff.ApprovalTimedOut",
    Outcome.CANCELLED: "Signoff.ApprovalCancelled",
    Outcome.FAILED: "Signoff.ApprovalFailed",
}
# How a parent execution that ended without our result shows on the root message.
ENDED = {"FAILED": Outcome.FAILED, "TIMED_OUT": Outcome.TIMED_OUT, "ABORTED": Outcome.CANCELLED}
# A claim older than this belongs to an invocation that died (Lambda timeouts are far shorter).
STALE_CLAIM = timedelta(minutes=2)


def root_key(flow_id: str) -> PostKey:
    """What a flow's root message is known by in Slack (its message metadata)."""
    return PostKey(f"flow#{flow_id}")


def pointer_key(execution_id: str) -> PostKey:
    """What a level's pointer message is known by in Slack (its message metadata)."""
    return PostKey(f"pointer#{execution_id}")


def task_key(token: str) -> str:
    """What the tables know a task token by: its SHA-256, never the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


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


def start_parameters(request: StartApprovalRequest, handle: str) -> dict[str, list[str]]:
    """The approval document's parameters for a level: the request's, and the task's handle."""
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


def snapshot(flow_id: str, level: int, approval: Approval, channel: str) -> LevelItem:
    """The level's record as this read of its approval shows it."""
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


def level_state(level: int, approval: Approval) -> LevelState:
    """One level as the views show it, from its approval."""
    done, needed = approval.progress
    return LevelState(
        level=level,
        outcome=approval.outcome,
        done=done,
        needed=needed,
        approved_by=approval.approved_by,
        rejected_by=_rejecters(approval),
    )


def flow_state(flow: FlowItem, levels: list[LevelItem], people: dict[str, str]) -> FlowState:
    """The flow as the views show it: each of its levels, in order, recorded or not yet."""
    by_level = {item.level: item for item in levels}
    shown: list[LevelState] = []
    for number in range(1, flow.levels + 1):
        item = by_level.get(number)
        shown.append(
            LevelState(
                level=number,
                outcome=item.outcome,
                done=item.done,
                needed=item.needed,
                approved_by=item.approved_by,
                rejected_by=item.rejected_by,
            )
            if item
            else LevelState(level=number)
        )
    return FlowState(
        flow_id=flow.flow_id,
        levels=tuple(shown),
        description=flow.description,
        outcome=flow.outcome,
        people=people,
    )
