"""Pieces every surface shares: user text made inert, mentions, dates, Block Kit limits, notices.

No I/O and no clock here (callers pass `now`). Every piece of user text is escaped and truncated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from slack_sdk.models.blocks import MarkdownTextObject, PlainTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.models import Outcome

# Block Kit limits (platform-facts C.5): header 150, section text 3000, field 2000.
HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
_SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,}")

OUTCOME_ICONS = {
    Outcome.WAITING: ":hourglass_flowing_sand:",
    Outcome.APPROVED: ":white_check_mark:",
    Outcome.REJECTED: ":no_entry:",
    Outcome.TIMED_OUT: ":alarm_clock:",
    Outcome.CANCELLED: ":heavy_minus_sign:",
    Outcome.FAILED: ":warning:",
}

# Bidirectional controls (embeddings, overrides, isolates, marks): one of them in a comment or a
# reason can make a card read backwards ("approve" shown where "evorppa" was typed, a file name
# whose extension seems to change). Shown text never needs them: they are dropped.
_BIDI = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C], None
)
# mrkdwn's formatting characters, replaced by look-alikes Slack does not read as markup, so a
# reason cannot make itself bold, italic, struck out or code, nor close the code span it is in.
# (Slack documents escaping only for &, < and >; it offers no escape for these.)
_FORMATTING = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})
_CODE_FORMATTING = str.maketrans({"`": "\u02cb"})
# ">" at the start of a line quotes it (also when it reaches Slack escaped as "&gt;").
_QUOTE = re.compile(r"^(\s*)>", re.MULTILINE)


def escape(text: str, *, code: bool = False) -> str:
    """User text made inert in mrkdwn: it cannot mention, link, notify, format, quote or turn
    itself around.

    Slack's documented escaping (&, < and > as entities) stops `<!channel>`, `<@U…>` and links;
    bidi controls are dropped; formatting characters become look-alikes. `code`: for text shown
    inside a code span, where only a backtick could still do harm (an IAM user name or a
    secret name keeps its `_`, so a command copied from the card still works).
    """
    text = text.translate(_BIDI)
    text = text.translate(_CODE_FORMATTING if code else _FORMATTING)
    if not code:
        text = _QUOTE.sub("\\1\u203a", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def looks_like_slack_user(text: str) -> bool:
    """Whether `text` has the shape of a Slack user id (U…, W…); it proves nothing more."""
    return _SLACK_ID.fullmatch(text) is not None


def literal(text: str) -> str:
    """User text as inline code: shown exactly as typed (a name, a command), never as markup."""
    return f"`{escape(text, code=True)}`"


def mention(slack_user_id: str) -> str:
    """`<@U…>` for a Slack user id; anything else (a runbook's caller chose it) as inert text."""
    if _SLACK_ID.fullmatch(slack_user_id):
        return f"<@{slack_user_id}>"
    return literal(slack_user_id)


def escape_message(message: str) -> str:
    """One of Signoff's own messages (a refusal), which may quote what someone typed: it can
    neither mention, link nor turn around, and keeps its own `code` and *emphasis*."""
    text = message.translate(_BIDI)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def refusal_text(message: str) -> str:
    """A private note that something the person asked for is not possible, and why."""
    return f":no_entry: {escape_message(message)}"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Who a principal is, as Signoff's own mapping says: principal ARN → Slack user id, only for
# the sessions Signoff itself opens for a mapped person (see ApprovalService.people).
People = Mapping[str, str]
# Who may decide, as Signoff's mapping says: an `Approvers` entry (role ARN, user ARN, user name,
# session ARN) → the Slack users whose mapped principal SSM counts as that entry
# (see bot.approvals.approver_people).
ApproverPeople = Mapping[str, Sequence[str]]


def principal_label(principal: str, people: People | None = None) -> str:
    """How a principal reads on a card: a mention for a person Signoff's mapping names, else
    the principal itself, as inert text.

    A role session's name proves nothing (anyone who may assume any listed role can call a
    session `U0CAROL`): only the entries of `people` (resolved through the identities table,
    see bot.approvals.mapped_people) become mentions, never a principal on its name alone.
    """
    user = people.get(principal) if people else None
    return mention(user) if user else raw_principal(principal)


def raw_principal(principal: str) -> str:
    """A principal as inert text, never a mention: an ARN reads as its resource."""
    # The ARN's resource: `user/ci`, `role/Deployer`, `assumed-role/Role/session`.
    if principal.startswith("arn:"):
        return literal(principal.split(":", 5)[-1])
    return literal(principal)


def slack_date(at: datetime) -> str:
    """A date every reader sees in their own time zone, with a UTC fallback."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def link(url: str | None, words: str) -> str:
    """`words` as a link to `url`, or the words alone when the URL cannot be linked safely."""
    # Slack's <url|words> breaks on "|", "<", ">" or a space in the URL (a permalink has none);
    # "&" is escaped there as in any message text (a reply's permalink has "&cid=").
    if not url or not url.startswith(("https://", "http://")) or any(c in url for c in "|<> "):
        return words
    return f"<{url.replace('&', '&amp;')}|{words}>"


def notice_modal(title: str, text: str) -> View:
    """A modal that only tells (used when a click turns out not to be allowed)."""
    return View(
        type="modal",
        title=PlainTextObject(text=truncate(title, 24)),
        close=PlainTextObject(text="Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_MAX)))],
    )
