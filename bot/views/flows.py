"""Multi-level flows (flow B): the flow's root message and ladder, level pointers, outcome texts.

All levels of one parent Step Functions execution share one thread: the root message carries
the ladder, each level's card sits in the thread, the flow's outcome is said there once.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.models import FlowState, LevelState, Outcome
from bot.views.text import (
    HEADER_MAX,
    OUTCOME_ICONS,
    SECTION_MAX,
    People,
    escape,
    link,
    literal,
    principal_label,
    truncate,
)

_LEVEL_MARKS = {
    Outcome.WAITING: "⏳",
    Outcome.APPROVED: "✓",
    Outcome.REJECTED: "✗",
    Outcome.TIMED_OUT: "⏰",
    Outcome.CANCELLED: "⊘",
    Outcome.FAILED: "⚠",
}
_LADDER_NAMES_MAX = 3
_NOT_STARTED = "\u2013"  # an en dash: the ladder's "not started yet"


def ladder_step(level: LevelState, people: People | None = None) -> str:
    """`level 1 ✓ approved by <@U1>`, `level 2 ⏳ 1 of 2`, and a dash for a level not started."""
    head = f"level {level.level}"
    if level.outcome is None:
        return f"{head} {_NOT_STARTED}"
    mark = _LEVEL_MARKS[level.outcome]
    if level.outcome is Outcome.WAITING:
        return f"{head} {mark} {level.done} of {level.needed}"
    if level.outcome is Outcome.APPROVED:
        by = _names(level.approved_by, people)
        return f"{head} {mark} approved by {by}" if by else f"{head} {mark} approved"
    if level.outcome is Outcome.REJECTED:
        by = _names(level.rejected_by, people)
        return f"{head} {mark} rejected by {by}" if by else f"{head} {mark} rejected"
    return f"{head} {mark} {level.outcome.label.lower()}"


def ladder_line(flow: FlowState) -> str:
    """Every level in order on one line, `·` between them."""
    return truncate(
        " · ".join(ladder_step(level, flow.people) for level in flow.levels), SECTION_MAX
    )


def flow_status_line(flow: FlowState) -> str:
    """Where the whole flow stands, one line."""
    count = len(flow.levels)
    level = flow.deciding_level()
    at = f"level {level.level} of {count}" if level else "a level"
    if flow.outcome is Outcome.WAITING:
        waiting = f" — {at} waits for approval" if level else ""
        return f"{OUTCOME_ICONS[Outcome.WAITING]} *In progress*{waiting}"
    if flow.outcome is Outcome.APPROVED:
        return f"{OUTCOME_ICONS[Outcome.APPROVED]} *Approved* — all {count} levels approved"
    if flow.outcome is Outcome.REJECTED:
        return f"{OUTCOME_ICONS[Outcome.REJECTED]} *Rejected* at {at}"
    return f"{OUTCOME_ICONS[flow.outcome]} *Stopped* — {at} {flow.outcome.label.lower()}"


def flow_root(flow: FlowState) -> list[Block]:
    """The flow's root message: what it is, the ladder, where it stands, a link to the execution."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=truncate(f"Approval flow: {flow.name}", HEADER_MAX)))
    ]
    if flow.description:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=truncate(f"*{escape(flow.description)}*", SECTION_MAX))
            )
        )
    blocks.append(SectionBlock(text=MarkdownTextObject(text=ladder_line(flow))))
    blocks.append(SectionBlock(text=MarkdownTextObject(text=flow_status_line(flow))))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=truncate(
                        f"Step Functions execution <{flow.console_url}|{escape(flow.name)}> · "
                        f"{len(flow.levels)} levels · each level's card is in this thread",
                        SECTION_MAX,
                    )
                )
            ]
        )
    )
    return blocks


def flow_root_text(flow: FlowState) -> str:
    """The notification text that goes with the root message's blocks."""
    return truncate(f"Approval flow {escape(flow.name)}: {ladder_line(flow)}", SECTION_MAX)


def flow_outcome_text(flow: FlowState, error: str | None = None) -> str:
    """Said once in the thread when the flow ends; `error` is what Step Functions was told."""
    count = len(flow.levels)
    level = flow.deciding_level()
    if flow.outcome is Outcome.APPROVED:
        return (
            f"{OUTCOME_ICONS[Outcome.APPROVED]} *Flow approved*: all {count} levels approved. "
            "The workflow continues on its approved path."
        )
    if level is None:
        return flow_status_line(flow)
    at = f"level {level.level} of {count}"
    later = (
        f" Level{'s' if count - level.level > 1 else ''} "
        f"{_range(level.level + 1, count)} will not start."
        if level.level < count
        else ""
    )
    if flow.outcome is Outcome.REJECTED:
        by = _names(level.rejected_by, flow.people)
        return (
            f"{OUTCOME_ICONS[Outcome.REJECTED]} *Flow rejected* at {at}"
            f"{' by ' + by if by else ''}.{later}"
        )
    told = f" Step Functions was told ({literal(error)}), so the flow fails now." if error else ""
    why = {
        Outcome.TIMED_OUT: f"{at} timed out with {level.done} of {level.needed} approvals",
        Outcome.CANCELLED: f"the approval of {at} was cancelled before a decision",
    }.get(flow.outcome, f"the approval of {at} failed; see the execution in the SSM console")
    return f"{OUTCOME_ICONS[flow.outcome]} *Flow stopped*: {why}.{told}{later}"


def late_result_text(level: LevelState, count: int, code: str, flow_status: str | None) -> str:
    """A level ended after Step Functions had stopped waiting for it (its task had closed)."""
    outcome = level.outcome.label.lower() if level.outcome else "decided"
    status = f" The flow's execution is {flow_status}." if flow_status else ""
    return (
        f":warning: Level {level.level} of {count} ended ({outcome}) after Step Functions had "
        f"stopped waiting for it ({literal(code)}), so this result changes nothing.{status}"
    )


def level_pointer_text(
    flow: FlowState, level: LevelState, thread_channel: str, thread_link: str | None = None
) -> str:
    """The short message in a level's own channel when the flow's thread lives elsewhere.

    With `thread_link` (the permalink of the flow's root message) the words "the flow's thread"
    open the thread; without one, the message still names the thread's channel.
    """
    head = f"Level {level.level} of {len(flow.levels)} of *{escape(flow.name)}*"
    where = f"<#{thread_channel}>"
    if level.outcome is None or level.outcome is Outcome.WAITING:
        thread = link(thread_link, "the flow's thread")
        return (
            f"{OUTCOME_ICONS[Outcome.WAITING]} {head} needs approval "
            f"({level.done} of {level.needed} so far). Its card is in {thread} in {where}."
        )
    step = ladder_step(level, flow.people).split(" ", 2)[2]
    thread = link(thread_link, "The flow's thread")
    return f"{head}: {step}. {thread} is in {where}."


def _names(principals: tuple[str, ...], people: People | None) -> str:
    shown = ", ".join(principal_label(p, people) for p in principals[:_LADDER_NAMES_MAX])
    extra = len(principals) - _LADDER_NAMES_MAX
    return f"{shown} +{extra}" if extra > 0 else shown


def _range(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}{_NOT_STARTED}{last}"


def level_pointer(
    flow: FlowState, level: LevelState, thread_channel: str, thread_link: str | None = None
) -> list[Block]:
    """The pointer's blocks: its text, so a later chat.update can replace it whole."""
    text = level_pointer_text(flow, level, thread_channel, thread_link)
    return [SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_MAX)))]
