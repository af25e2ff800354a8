"""Approval cards: the card and its status line, the decision modal, outcome and reminder texts."""

from __future__ import annotations

import msgspec
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.models import (
    Approval,
    DecisionTarget,
    Outcome,
    Verdict,
    flow_console_url,
    flow_name,
)
from bot.views.text import (
    FIELD_MAX,
    HEADER_MAX,
    OUTCOME_ICONS,
    SECTION_MAX,
    ApproverPeople,
    People,
    escape,
    link,
    literal,
    mention,
    principal_label,
    raw_principal,
    slack_date,
    truncate,
)

# Action and callback ids: the listeners register on exactly these.
ACTION_APPROVE = "approval_approve"
ACTION_REJECT = "approval_reject"
VIEW_DECISION = "approval_decision"
COMMENT_BLOCK = "comment"
COMMENT_ACTION = "comment_input"
COMMENT_MAX = 512  # SSM's limit on each Payload value (SendAutomationSignal)

# People named per approver entry before "+N": a role with 200 members stays one short line.
_APPROVER_NAMES_MAX = 10
_LEVEL_WHAT_MAX = 200  # a level's description or message, on its one line


class CardContext(msgspec.Struct, frozen=True):
    """Where a card sits in a multi-level flow, when it does."""

    level: int | None = None
    levels: int | None = None
    flow_id: str | None = None  # the parent execution: it, not Signoff's role, started the level


def card_value(approval: Approval) -> str:
    """The opaque id a button carries: execution id and step name, nothing secret."""
    return f"{approval.execution_id}:{approval.step_name}"


def parse_card_value(value: str) -> tuple[str, str | None]:
    execution_id, _, step = value.partition(":")
    return execution_id, step or None


def status_line(approval: Approval, people: People | None = None) -> str:
    """One line that says where the approval stands: "1 of 2 approvals — <@U1> approved: LGTM"."""
    return f"{OUTCOME_ICONS[approval.outcome]} {_status(approval, people)}"


def _status(approval: Approval, people: People | None) -> str:
    done, needed = approval.progress
    if approval.outcome.is_open:
        line = f"*{done} of {needed} approval{'s' if needed != 1 else ''}*"
        if approval.decisions:
            last = approval.decisions[-1]
            line += f" — {_decision_phrase(last.principal, last.verdict, last.comment, people)}"
        return line
    approved = ", ".join(principal_label(p, people) for p in approval.approved_by)
    rejecters = [d for d in approval.decisions if d.verdict is Verdict.REJECT]
    if approval.outcome is Outcome.APPROVED and approved:
        return f"*Approved* by {approved}"
    if approval.outcome is Outcome.REJECTED and rejecters:
        r = rejecters[0]
        return f"*Rejected* — {_decision_phrase(r.principal, r.verdict, r.comment, people)}"
    return f"*{approval.outcome.label}*"


def approval_card(
    approval: Approval,
    context: CardContext | None = None,
    people: People | None = None,
    *,
    approvers: ApproverPeople | None = None,
) -> list[Block]:
    """The card approvers see: what, who asked, who may decide, quorum, deadline, buttons.

    `approvers`: the people mapped to each `Approvers` entry; an entry nobody is mapped to (or
    without the mapping at hand) shows as the principal itself. A flow's level gets the short
    card of `level_card`: it sits in the flow's thread, under the root message's ladder."""
    if context and context.level:
        return level_card(approval, context, people, approvers=approvers)
    title = f"Approval: {approval.document_name}"
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=truncate(title, HEADER_MAX)))]
    intro = f"*{escape(approval.description)}*\n" if approval.description else ""
    message = escape(approval.message) or "_No message_"
    blocks.append(
        SectionBlock(text=MarkdownTextObject(text=truncate(intro + message, SECTION_MAX)))
    )
    blocks.append(SectionBlock(fields=_fields(approval, context, people, approvers)))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Execution <{approval.console_url}|{approval.execution_id}> "
                    f"· step {literal(approval.step_name)}"
                )
            ]
        )
    )
    blocks.append(DividerBlock())
    # Fifty approvers' names (an output list's maximum) can outgrow a section's 3000 characters.
    status = truncate(status_line(approval, people), SECTION_MAX)
    blocks.append(SectionBlock(text=MarkdownTextObject(text=status)))
    if approval.outcome.is_open:
        blocks.append(_buttons(approval))
    return blocks


def _buttons(approval: Approval) -> ActionsBlock:
    value = card_value(approval)
    return ActionsBlock(
        # A new block_id per state, as Slack asks for updated messages.
        block_id=truncate(f"decide:{approval.rank}:{approval.execution_id}", 255),
        elements=[
            ButtonElement(text="Approve", action_id=ACTION_APPROVE, value=value, style="primary"),
            ButtonElement(text="Reject", action_id=ACTION_REJECT, value=value, style="danger"),
        ],
    )


def level_card(
    approval: Approval,
    context: CardContext,
    people: People | None = None,
    *,
    approvers: ApproverPeople | None = None,
) -> list[Block]:
    """A flow level's card in the flow's thread: one line (what, who decides, how far, until
    when) and the buttons; once decided, one line that says how it ended.

    The thread reads one line per event: the flow's root message already names the flow and
    shows every level on its ladder, so a level repeats none of that."""
    of = f" of {context.levels}" if context.levels else ""
    # The link before anything long, so a truncated line never cuts it in half.
    head = f"{OUTCOME_ICONS[approval.outcome]} *Level {context.level}{of}*"
    parts = [f"{head} (<{approval.console_url}|execution>)"]
    if approval.outcome.is_open:
        done, needed = approval.progress
        what = approval.description or approval.message
        if what:
            parts.append(escape(truncate(what, _LEVEL_WHAT_MAX)))
        names = _approver_names(approval, people, approvers)
        parts.append(f"{names or '_no approvers listed_'} to decide")
        parts.append(f"{done} of {needed} approval{'s' if needed != 1 else ''}")
        if approval.timeout_at:
            parts.append(f"times out {slack_date(approval.timeout_at)}")
    else:
        parts.append(_status(approval, people))
    line = truncate(" · ".join(parts), SECTION_MAX)
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=line))]
    if approval.outcome.is_open:
        blocks.append(_buttons(approval))
    return blocks


def _approver_names(approval: Approval, people: People | None, who: ApproverPeople | None) -> str:
    """Everyone who may decide, as people where mapped, else as the principal itself."""
    names: list[str] = []
    for entry in approval.approvers:
        users = (who or {}).get(entry) or ()
        if users:
            names.extend(mention(u) for u in users)
        else:
            names.append(principal_label(entry, people))
    names = list(dict.fromkeys(names))  # one person in two roles is named once
    shown = ", ".join(names[:_APPROVER_NAMES_MAX])
    extra = len(names) - _APPROVER_NAMES_MAX
    return f"{shown} +{extra}" if extra > 0 else shown


def card_text(approval: Approval) -> str:
    """The notification / screen-reader text that goes with the card's blocks."""
    return truncate(
        f"Approval {approval.outcome.label.lower()}: {approval.document_name}"
        f" ({approval.progress[0]} of {approval.progress[1]} approvals)",
        SECTION_MAX,
    )


def _fields(
    approval: Approval,
    context: CardContext | None,
    people: People | None,
    who: ApproverPeople | None,
) -> list[MarkdownTextObject]:
    done, needed = approval.progress
    approvers = "\n".join(_approver(a, people, who) for a in approval.approvers) or "_none_"
    fields = []
    requester = approval.parameter("RequesterSlackId")
    if requester:
        fields.append(("Requested by", mention(requester)))
    elif context and context.flow_id:
        # A level's execution is started by Signoff's start-approval role: the flow is who
        # asked. (Who started the flow is not known: StartExecution's caller is in CloudTrail
        # only, and the flow's input names nobody.)
        flow = context.flow_id
        fields.append(
            ("Started by", f"{link(flow_console_url(flow), 'Flow')} {literal(flow_name(flow))}")
        )
    elif approval.executed_by:
        fields.append(("Started by", principal_label(approval.executed_by, people)))
    iam_user = approval.parameter("IamUser")
    if iam_user:
        fields.append(("Access key for", f"IAM user {literal(iam_user)}"))
    reason = approval.parameter("RequestReason")
    if reason:
        fields.append(("Reason", escape(reason)))
    fields.append(("Approvers", approvers))
    fields.append(("Quorum", f"{done} of {needed} approval{'s' if needed != 1 else ''}"))
    if approval.timeout_at:
        fields.append(("Times out", slack_date(approval.timeout_at)))
    return [
        MarkdownTextObject(text=truncate(f"*{label}*\n{value}", FIELD_MAX))
        for label, value in fields[:10]
    ]


def _approver(entry: str, people: People | None, who: ApproverPeople | None) -> str:
    # The people first (who to nudge), the role they hold underneath (why they may decide).
    users = (who or {}).get(entry) or ()
    if not users:
        return principal_label(entry, people)
    shown = ", ".join(mention(u) for u in users[:_APPROVER_NAMES_MAX])
    extra = len(users) - _APPROVER_NAMES_MAX
    if extra > 0:
        shown += f" +{extra}"
    return f"{shown}\n{raw_principal(entry)}"


def _decision_phrase(
    principal: str, verdict: Verdict, comment: str, people: People | None = None
) -> str:
    verb = "approved" if verdict is Verdict.APPROVE else "rejected"
    said = f": {escape(truncate(comment, COMMENT_MAX))}" if comment else ""
    return f"{principal_label(principal, people)} {verb}{said}"


def decision_modal(target: DecisionTarget, summary: str, external_id: str | None = None) -> View:
    """Approve offers an optional comment; Reject always asks for a reason."""
    rejecting = target.verdict is Verdict.REJECT
    # A modal's submit button is plain text and takes no `style` (Slack's modal view reference),
    # so the Reject modal cannot have a red button: it says what rejecting does, first, instead.
    warning = ":no_entry: *Rejecting stops the run at this approval.*\n" if rejecting else ""
    return View(
        type="modal",
        callback_id=VIEW_DECISION,
        external_id=external_id,
        title=PlainTextObject(text="Reject" if rejecting else "Approve"),
        submit=PlainTextObject(text="Reject" if rejecting else "Approve"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=target.dumps(),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(text=truncate(warning + escape(summary), SECTION_MAX))
            ),
            InputBlock(
                block_id=COMMENT_BLOCK,
                # Slack writes "(optional)" after an optional input's label itself.
                label=PlainTextObject(text="Reason" if rejecting else "Comment"),
                optional=not rejecting,
                hint=PlainTextObject(text="Recorded in SSM with your decision and in the thread."),
                element=PlainTextInputElement(
                    action_id=COMMENT_ACTION, multiline=True, max_length=COMMENT_MAX
                ),
            ),
        ],
    )


def comment_errors(verdict: Verdict, comment: str) -> dict[str, str]:
    """Modal validation errors keyed by block id (empty when the comment is fine)."""
    if verdict is Verdict.REJECT and not comment.strip():
        return {COMMENT_BLOCK: "Say why you reject: the requester and the audit trail need it."}
    if len(comment) > COMMENT_MAX:
        return {
            COMMENT_BLOCK: f"At most {COMMENT_MAX} characters (SSM's limit); {len(comment)} now."
        }
    return {}


def decision_text(
    principal: str,
    verdict: Verdict,
    comment: str,
    via: str = "Slack",
    people: People | None = None,
) -> str:
    icon = ":white_check_mark:" if verdict is Verdict.APPROVE else ":x:"
    return f"{icon} {_decision_phrase(principal, verdict, comment, people)} (via {via})"


def outcome_text(approval: Approval, people: People | None = None) -> str:
    line = status_line(approval, people)
    follow = {
        Outcome.APPROVED: " The runbook continues.",
        Outcome.REJECTED: " The runbook stops here.",
        Outcome.TIMED_OUT: " Nobody decided before the deadline; the runbook stopped.",
        Outcome.CANCELLED: " The execution was stopped before a decision.",
        Outcome.FAILED: " The step failed; see the execution in the console.",
    }
    return line + follow.get(approval.outcome, "")


def reminder_text(approval: Approval, mentions: list[str]) -> str:
    done, needed = approval.progress
    who = " ".join(f"<@{m}>" for m in mentions) or "approvers"
    deadline = slack_date(approval.timeout_at) if approval.timeout_at else "soon"
    return (
        f":alarm_clock: Reminder {who}: this approval times out {deadline}. "
        f"{done} of {needed} approvals so far."
    )
