"""The App Home tab: a pure function from one person's approvals, requests and decisions to a view.

No I/O and no clock (the caller passes `now`); built with slack_sdk.models, so Slack's limits
(100 blocks a view, 3000 characters a section, 255 a block id) fail in tests, not in Slack.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.models import (
    CardRef,
    Decided,
    HomeState,
    MappedAs,
    Outcome,
    Request,
    Verdict,
    Waiting,
    flow_name,
)
from bot.views.approvals import card_value
from bot.views.text import OUTCOME_ICONS, SECTION_MAX, escape, literal, slack_date, truncate

# Action ids of the Home tab's buttons: bot/listeners/home.py registers on exactly these. Their
# values are the card's (execution id and step); the block id carries where the card is.
ACTION_HOME_APPROVE = "home_approve"
ACTION_HOME_REJECT = "home_reject"
_HOME_BLOCK = "home"

# A Home view holds at most 100 blocks (Slack's Home tab view reference): two per waiting
# approval, one line per request and decision, and the frame around them stays far below.
WAITING_MAX = 20
REQUESTS_MAX = 10
DECIDED_MAX = 10
_MESSAGE_MAX = 280
_REASON_MAX = 120
_COMMENT_MAX = 120


def home_block_id(card: CardRef, execution_id: str) -> str:
    """The Home actions block's id: where the card is (for the decision's thread and refusals).

    Unique per waiting approval, as a view's block ids must be."""
    return f"{_HOME_BLOCK}|{card.channel}|{card.ts}|{execution_id}"


def parse_home_block_id(block_id: str) -> CardRef | None:
    kind, _, rest = block_id.partition("|")
    channel, _, rest = rest.partition("|")
    ts, _, _ = rest.partition("|")
    if kind != _HOME_BLOCK or not channel or not ts:
        return None
    return CardRef(channel, ts)


def home_view(state: HomeState, now: datetime) -> View:
    """The person's Home tab: waiting for them (newest first), their requests, their decisions."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text="Signoff")),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Approvals for <@{state.user}> · updated {slack_date(now)}"
                )
            ]
        ),
    ]
    note = _mapping_note(state)
    if note:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(note, SECTION_MAX))))
    blocks.append(_heading("Waiting for you", state.waiting_total))
    if not state.waiting:
        blocks.append(_quiet("Nothing waits for your decision."))
    for item in state.waiting[:WAITING_MAX]:
        blocks.extend(_waiting(item, now))
    hidden = state.waiting_total - min(len(state.waiting), WAITING_MAX)
    if hidden > 0:
        blocks.append(_quiet(f"…and {hidden} more, older: see the approval channels."))
    blocks.append(DividerBlock())
    blocks.append(_heading("Your requests", len(state.requests)))
    if not state.requests:
        blocks.append(_quiet("No access-key requests from you lately (`/request-key`)."))
    blocks.extend(_request(r) for r in state.requests[:REQUESTS_MAX])
    blocks.append(DividerBlock())
    blocks.append(_heading("Recently decided by you", len(state.decided)))
    if not state.decided:
        blocks.append(_quiet("No decisions from you lately."))
    blocks.extend(_decided(d) for d in state.decided[:DECIDED_MAX])
    return View(type="home", blocks=blocks)


def home_text(state: HomeState) -> str:
    """One line that sums the Home tab up (tests, logs)."""
    return f"{state.waiting_total} waiting for {state.user}"


def _mapping_note(state: HomeState) -> str | None:
    """Why nothing can wait for the person, and the one line an admin runs to change that."""
    if state.mapping is MappedAs.NONE:
        return (
            ":information_source: You are not mapped to an AWS approver role yet, so no "
            "approval can wait for you here. Ask an admin to run: "
            f"`signoff users map {state.user} --role <approver-role-arn> --name <your name>`"
        )
    if state.mapping is MappedAs.IAM_USER_ONLY:
        return (
            f":information_source: You are mapped to IAM user {literal(state.iam_user or '')} "
            "(for access keys) but to no approver role, so no approval can wait for you. Ask an "
            f"admin to add `--role <approver-role-arn>` to your mapping "
            f"(`signoff users map {state.user} …`)."
        )
    return None


def _heading(title: str, count: int) -> SectionBlock:
    suffix = f" ({count})" if count else ""
    return SectionBlock(text=MarkdownTextObject(text=f"*{title}{suffix}*"))


def _quiet(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _waiting(item: Waiting, now: datetime) -> list[Block]:
    approval = item.approval
    title = f"Approval: {escape(approval.document_name)}"
    if item.level:
        of = f" of {item.levels}" if item.levels else ""
        flow = f" · {literal(flow_name(item.flow_id))}" if item.flow_id else ""
        title = f"Level {item.level}{of}{flow} · {title}"
    done, needed = approval.progress
    lines = [f"*{title}*"]
    if approval.description:
        lines.append(escape(truncate(approval.description, _MESSAGE_MAX)))
    if approval.message:
        lines.append(escape(truncate(approval.message, _MESSAGE_MAX)))
    status = f"{OUTCOME_ICONS[Outcome.WAITING]} {done} of {needed} approvals"
    status += f" · in <#{item.card.channel}> since {slack_date(item.since)}"
    if approval.timeout_at is not None:
        late = approval.timeout_at <= now
        status += f" · {'timed out' if late else 'times out'} {slack_date(approval.timeout_at)}"
    lines.append(status)
    lines.append(f"Execution {literal(approval.execution_id)} · step {literal(approval.step_name)}")
    value = card_value(approval)
    return [
        SectionBlock(text=MarkdownTextObject(text=truncate("\n".join(lines), SECTION_MAX))),
        ActionsBlock(
            block_id=truncate(home_block_id(item.card, approval.execution_id), 255),
            elements=[
                ButtonElement(
                    text="Approve", action_id=ACTION_HOME_APPROVE, value=value, style="primary"
                ),
                ButtonElement(
                    text="Reject", action_id=ACTION_HOME_REJECT, value=value, style="danger"
                ),
            ],
        ),
    ]


def _request(request: Request) -> SectionBlock:
    state = request.state
    label = state.label if state is not None else "Starting"
    icon = OUTCOME_ICONS[state] if state is not None else ":hourglass:"
    when = f" · {slack_date(request.at)}" if request.at else ""
    run = f"\nExecution {literal(request.execution_id)}" if request.execution_id else ""
    text = (
        f"{icon} *Access key for {literal(request.iam_user)}* — {label}{when}\n"
        f"{escape(truncate(request.reason, _REASON_MAX))}{run}"
    )
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_MAX)))


def _decided(decision: Decided) -> SectionBlock:
    approved = decision.verdict is Verdict.APPROVE
    icon = ":white_check_mark:" if approved else ":x:"
    verb = "Approved" if approved else "Rejected"
    said = f": {escape(truncate(decision.comment, _COMMENT_MAX))}" if decision.comment else ""
    what = (
        f"Approval: {escape(decision.document_name)} · execution"
        if decision.document_name
        else "Execution"
    )
    text = (
        f"{icon} *{verb}*{said} · {slack_date(decision.at)}\n"
        f"{what} {literal(decision.execution_id)} · step {literal(decision.step_name)}"
    )
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_MAX)))
