"""Block Kit builders: pure functions from domain objects to Slack blocks, views and texts.

No I/O and no clock here (callers pass `now`); blocks are built with slack_sdk.models so that
Slack's limits fail in tests, not in Slack. Every piece of user text is escaped and truncated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

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

from bot.access_key_models import KeyOutcome, KeyRequest, KeyStatus, OutcomeKind
from bot.models import Approval, Outcome, Verdict

# Action and callback ids: the listeners register on exactly these.
ACTION_APPROVE = "approval_approve"
ACTION_REJECT = "approval_reject"
VIEW_DECISION = "approval_decision"
COMMENT_BLOCK = "comment"
COMMENT_ACTION = "comment_input"
COMMENT_MAX = 512  # SSM's limit on each Payload value (SendAutomationSignal)

# Block Kit limits (platform-facts C.5): header 150, section text 3000, field 2000.
_HEADER_MAX = 150
_SECTION_MAX = 3000
_FIELD_MAX = 2000
_SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,}")

_OUTCOME_ICONS = {
    Outcome.WAITING: ":hourglass_flowing_sand:",
    Outcome.APPROVED: ":white_check_mark:",
    Outcome.REJECTED: ":no_entry:",
    Outcome.TIMED_OUT: ":alarm_clock:",
    Outcome.CANCELLED: ":heavy_minus_sign:",
    Outcome.FAILED: ":warning:",
}


class CardContext(msgspec.Struct, frozen=True):
    """Where a card sits in a multi-level flow, when it does."""

    level: int | None = None
    levels: int | None = None
    flow_id: str | None = None  # the parent execution: it, not Signoff's role, started the level


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
# People named per approver entry before "+N": a role with 200 members stays one short line.
_APPROVER_NAMES_MAX = 10


def principal_label(principal: str, people: People | None = None) -> str:
    """How a principal reads on a card: a mention for a person Signoff's mapping names, else
    the principal itself, as inert text.

    A role session's name proves nothing (anyone who may assume any listed role can call a
    session `U0CAROL`): only the entries of `people` (resolved through the identities table,
    see bot.approvals.mapped_people) become mentions, never a principal on its name alone.
    """
    user = people.get(principal) if people else None
    return mention(user) if user else _raw_principal(principal)


def _raw_principal(principal: str) -> str:
    # The ARN's resource: `user/ci`, `role/Deployer`, `assumed-role/Role/session`.
    if principal.startswith("arn:"):
        return literal(principal.split(":", 5)[-1])
    return literal(principal)


def slack_date(at: datetime) -> str:
    """A date every reader sees in their own time zone, with a UTC fallback."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def card_value(approval: Approval) -> str:
    """The opaque id a button carries: execution id and step name, nothing secret."""
    return f"{approval.execution_id}:{approval.step_name}"


def parse_card_value(value: str) -> tuple[str, str | None]:
    execution_id, _, step = value.partition(":")
    return execution_id, step or None


def status_line(approval: Approval, people: People | None = None) -> str:
    """One line that says where the approval stands: "1 of 2 approvals — <@U1> approved: LGTM"."""
    done, needed = approval.progress
    icon = _OUTCOME_ICONS[approval.outcome]
    if approval.outcome.is_open:
        line = f"{icon} *{done} of {needed} approval{'s' if needed != 1 else ''}*"
        if approval.decisions:
            last = approval.decisions[-1]
            line += f" — {_decision_phrase(last.principal, last.verdict, last.comment, people)}"
        return line
    approved = ", ".join(principal_label(p, people) for p in approval.approved_by)
    rejecters = [d for d in approval.decisions if d.verdict is Verdict.REJECT]
    if approval.outcome is Outcome.APPROVED and approved:
        return f"{icon} *Approved* by {approved}"
    if approval.outcome is Outcome.REJECTED and rejecters:
        r = rejecters[0]
        return f"{icon} *Rejected* — {_decision_phrase(r.principal, r.verdict, r.comment, people)}"
    return f"{icon} *{approval.outcome.label}*"


def approval_card(
    approval: Approval,
    context: CardContext | None = None,
    people: People | None = None,
    *,
    approvers: ApproverPeople | None = None,
) -> list[Block]:
    """The card approvers see: what, who asked, who may decide, quorum, deadline, buttons.

    `approvers`: the people mapped to each `Approvers` entry; an entry nobody is mapped to (or
    without the mapping at hand) shows as the principal itself."""
    title = f"Approval: {approval.document_name}"
    if context and context.level:
        of = f" of {context.levels}" if context.levels else ""
        title = f"Level {context.level}{of} · {title}"
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=truncate(title, _HEADER_MAX)))]
    intro = f"*{escape(approval.description)}*\n" if approval.description else ""
    message = escape(approval.message) or "_No message_"
    blocks.append(
        SectionBlock(text=MarkdownTextObject(text=truncate(intro + message, _SECTION_MAX)))
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
    status = truncate(status_line(approval, people), _SECTION_MAX)
    blocks.append(SectionBlock(text=MarkdownTextObject(text=status)))
    if approval.outcome.is_open:
        value = card_value(approval)
        blocks.append(
            ActionsBlock(
                # A new block_id per state, as Slack asks for updated messages.
                block_id=truncate(f"decide:{approval.rank}:{approval.execution_id}", 255),
                elements=[
                    ButtonElement(
                        text="Approve", action_id=ACTION_APPROVE, value=value, style="primary"
                    ),
                    ButtonElement(
                        text="Reject", action_id=ACTION_REJECT, value=value, style="danger"
                    ),
                ],
            )
        )
    return blocks


def card_text(approval: Approval) -> str:
    """The notification / screen-reader text that goes with the card's blocks."""
    return truncate(
        f"Approval {approval.outcome.label.lower()}: {approval.document_name}"
        f" ({approval.progress[0]} of {approval.progress[1]} approvals)",
        _SECTION_MAX,
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
            ("Started by", f"{_link(flow_console_url(flow), 'Flow')} {literal(flow_name(flow))}")
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
        MarkdownTextObject(text=truncate(f"*{label}*\n{value}", _FIELD_MAX))
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
    return f"{shown}\n{_raw_principal(entry)}"


def _decision_phrase(
    principal: str, verdict: Verdict, comment: str, people: People | None = None
) -> str:
    verb = "approved" if verdict is Verdict.APPROVE else "rejected"
    said = f": {escape(truncate(comment, COMMENT_MAX))}" if comment else ""
    return f"{principal_label(principal, people)} {verb}{said}"


class DecisionTarget(msgspec.Struct, frozen=True):
    """What a decision modal decides on; round-trips through private_metadata (opaque ids only)."""

    execution_id: str
    step_name: str | None
    verdict: Verdict
    channel: str
    ts: str

    def dumps(self) -> str:
        return json.dumps(
            {
                "execution_id": self.execution_id,
                "step": self.step_name,
                "verdict": self.verdict.value,
                "channel": self.channel,
                "ts": self.ts,
            }
        )

    @classmethod
    def loads(cls, raw: str) -> DecisionTarget:
        data = json.loads(raw)
        return cls(
            execution_id=str(data["execution_id"]),
            step_name=data.get("step"),
            verdict=Verdict(data["verdict"]),
            channel=str(data["channel"]),
            ts=str(data["ts"]),
        )


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
                text=MarkdownTextObject(text=truncate(warning + escape(summary), _SECTION_MAX))
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


def notice_modal(title: str, text: str) -> View:
    """A modal that only tells (used when a click turns out not to be allowed)."""
    return View(
        type="modal",
        title=PlainTextObject(text=truncate(title, 24)),
        close=PlainTextObject(text="Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=truncate(text, _SECTION_MAX)))],
    )


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


# -- Access keys (flow C, /request-key) ------------------------------------------------------
# The secret key never reaches these builders: they see a secret's name, never its value.

COMMAND_REQUEST_KEY = "/request-key"
VIEW_KEY_REQUEST = "key_request"
KEY_USER_BLOCK = "key_iam_user"
KEY_USER_ACTION = "key_iam_user_input"
KEY_REASON_BLOCK = "key_reason"
KEY_REASON_ACTION = "key_reason_input"
KEY_REASON_MAX = 500
_KEY_FIELD_BLOCKS = {"iam_user": KEY_USER_BLOCK, "reason": KEY_REASON_BLOCK}
_KEY_REFUSALS = {
    KeyStatus.KEY_LIMIT: "IAM user `{user}` already has 2 access keys, IAM's maximum. Delete one "
    "that is no longer used (`aws iam list-access-keys --user-name {user}`, then "
    "`aws iam delete-access-key --user-name {user} --access-key-id <id>`) and ask again.",
    KeyStatus.USER_NOT_FOUND: "IAM user `{user}` no longer exists.",
    KeyStatus.OUT_OF_PATH: "IAM user `{user}` is no longer under the IAM path Signoff may issue "
    "keys for (it was moved after the request). Ask an admin to move it back and ask again, or "
    "request the key another way.",
    KeyStatus.NOT_APPROVED: "the issuer found no valid approval for it (only the deployed key "
    "approvers count, and an approval by the requester does not).",
    KeyStatus.NOT_RECORDED: "Signoff did not start this request (its runbook was started "
    "outside Slack, or copied from another request). Ask with `/request-key`.",
}


def key_request_modal(iam_user: str | None = None) -> View:
    """`/request-key` with no text: ask for the IAM user (pre-filled with the requester's own,
    when mapped) and the reason."""
    return View(
        type="modal",
        callback_id=VIEW_KEY_REQUEST,
        title=PlainTextObject(text="Request an access key"),
        submit=PlainTextObject(text="Request"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text="Approvers decide in Slack. The key goes into AWS Secrets Manager, "
                    "readable only by that IAM user; you get a DM with how to read it."
                )
            ),
            InputBlock(
                block_id=KEY_USER_BLOCK,
                label=PlainTextObject(text="IAM user"),
                hint=PlainTextObject(text="Your own IAM user (admins may name any)."),
                element=PlainTextInputElement(
                    action_id=KEY_USER_ACTION, max_length=64, initial_value=iam_user
                ),
            ),
            InputBlock(
                block_id=KEY_REASON_BLOCK,
                label=PlainTextObject(text="Reason"),
                hint=PlainTextObject(text="What the key is for; the approvers read this."),
                element=PlainTextInputElement(
                    action_id=KEY_REASON_ACTION, multiline=True, max_length=KEY_REASON_MAX
                ),
            ),
        ],
    )


def key_request_errors(field: str, message: str) -> dict[str, str]:
    """A refusal shown under the modal input it is about."""
    return {_KEY_FIELD_BLOCKS.get(field, KEY_USER_BLOCK): truncate(message, _FIELD_MAX)}


def key_request_refused_text(message: str) -> str:
    return f":no_entry: No request started: {escape_message(message)}"


def key_request_started_text(request: KeyRequest) -> str:
    return (
        f":hourglass_flowing_sand: Requested an access key for IAM user "
        f"{literal(request.iam_user)} (reason: {escape(truncate(request.reason, 300))}). "
        "Approvers have been asked in Slack; I will send you a DM with the outcome. "
        f"Execution `{request.execution_id}`."
    )


def key_request_started_modal(request: KeyRequest) -> View:
    """What the form turns into once the request is on its way."""
    return notice_modal("Request sent", key_request_started_text(request))


def read_secret_command(secret_name: str) -> str:
    """The AWS CLI command that prints the secret (its JSON holds AccessKeyId, SecretAccessKey)."""
    return (
        f"aws secretsmanager get-secret-value --secret-id '{secret_name}' "
        "--query SecretString --output text"
    )


def key_outcome_dm(outcome: KeyOutcome, people: People | None = None) -> str:
    """What the requester reads when their request has ended; `people` as for principal_label."""
    user = literal(outcome.iam_user)
    if outcome.kind is OutcomeKind.ISSUED and outcome.secret_name:
        return (
            f":key: Your access key for IAM user {user} is ready. It is stored in AWS Secrets "
            f"Manager as {literal(outcome.secret_name)}, which only {user} (and the key admins) "
            "may read. Read it, signed in as that user, with:\n"
            f"```{escape(read_secret_command(outcome.secret_name), code=True)}```"
        )
    return f"{_key_outcome_line(outcome, people)}\nExecution `{outcome.execution_id}`."


def key_request_card(
    approval: Approval,
    outcome: KeyOutcome,
    people: People | None = None,
    *,
    approvers: ApproverPeople | None = None,
) -> list[Block]:
    """An approved key request's card once it ended without a key: the approval, then why no
    key was created, so "Approved" never stands alone over a key that was not issued."""
    line = _key_outcome_line(outcome, people)
    return [
        *approval_card(approval, people=people, approvers=approvers),
        SectionBlock(text=MarkdownTextObject(text=truncate(line, _SECTION_MAX))),
    ]


def key_outcome_thread(outcome: KeyOutcome, people: People | None = None) -> str:
    """The same outcome for the card's thread: who asked, what happened, no way to read a key."""
    requester = mention(outcome.requester) if outcome.requester else "the requester"
    if outcome.kind is OutcomeKind.ISSUED and outcome.secret_name:
        return (
            f":key: Access key issued for IAM user {literal(outcome.iam_user)} and stored in "
            f"Secrets Manager as {literal(outcome.secret_name)}; {requester} has been sent "
            "how to read it."
        )
    return f"{_key_outcome_line(outcome, people)} ({requester} has been told.)"


def _key_outcome_line(outcome: KeyOutcome, people: People | None) -> str:
    user = literal(outcome.iam_user)
    if outcome.kind is OutcomeKind.REJECTED:
        by = ", ".join(principal_label(p, people) for p in outcome.decided_by) or "an approver"
        said = f": {escape(truncate(outcome.comment, COMMENT_MAX))}" if outcome.comment else "."
        return f":no_entry: The access key request for {user} was rejected by {by}{said}"
    if outcome.kind is OutcomeKind.REFUSED and outcome.refusal in _KEY_REFUSALS:
        why = _KEY_REFUSALS[outcome.refusal].format(user=escape(outcome.iam_user, code=True))
        return f":warning: No access key was created for {user}: {why}"
    if outcome.kind is OutcomeKind.TIMED_OUT:
        return (
            f":alarm_clock: Nobody decided the access key request for {user} before it timed "
            f"out. Ask again with `{COMMAND_REQUEST_KEY}` if it is still needed."
        )
    if outcome.kind is OutcomeKind.CANCELLED:
        return f":heavy_minus_sign: The access key request for {user} was cancelled."
    failure = escape(truncate(outcome.failure, 500)) or "no reason given"
    return (
        f":warning: The access key request for {user} failed: {failure}. An admin can look "
        "at the execution in the SSM console."
    )


# -- Multi-level flows (flow B, issue #4) -----------------------------------------------------
# All levels of one parent Step Functions execution share one thread: the root message carries
# the ladder, each level's card sits in the thread, the flow's outcome is said there once.

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


class LevelState(msgspec.Struct, frozen=True):
    """One level as the ladder shows it; `outcome` None means the level has not started."""

    level: int
    outcome: Outcome | None = None
    done: int = 0
    needed: int = 0
    approved_by: tuple[str, ...] = ()
    rejected_by: tuple[str, ...] = ()


class FlowState(msgspec.Struct, frozen=True):
    """A parent execution (the flow) and its levels, one LevelState each, 1..N in order."""

    flow_id: str
    levels: tuple[LevelState, ...]
    description: str = ""
    outcome: Outcome = Outcome.WAITING
    # Which of the levels' deciders are people, by Signoff's mapping (see principal_label).
    people: dict[str, str] = {}

    @property
    def name(self) -> str:
        return flow_name(self.flow_id)

    @property
    def console_url(self) -> str:
        return flow_console_url(self.flow_id)

    def deciding_level(self) -> LevelState | None:
        """The level that ended the flow (or the one it waits on while it runs)."""
        # A running or approved flow has no level that ended it: look for the waiting one.
        ended_by_level = self.outcome not in {Outcome.WAITING, Outcome.APPROVED}
        target = self.outcome if ended_by_level else Outcome.WAITING
        return next((level for level in self.levels if level.outcome is target), None)


def flow_console_url(flow_id: str) -> str:
    region = flow_id.split(":")[3] if flow_id.count(":") >= 6 else "us-east-1"
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{flow_id}"
    )


def flow_name(flow_id: str) -> str:
    """`arn:aws:states:…:execution:Machine:run-1` reads as `Machine/run-1`."""
    parts = flow_id.split(":")
    if len(parts) >= 8 and parts[5] == "execution":
        return f"{parts[6]}/{parts[7]}"
    return flow_id


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
        " · ".join(ladder_step(level, flow.people) for level in flow.levels), _SECTION_MAX
    )


def flow_status_line(flow: FlowState) -> str:
    """Where the whole flow stands, one line."""
    count = len(flow.levels)
    level = flow.deciding_level()
    at = f"level {level.level} of {count}" if level else "a level"
    if flow.outcome is Outcome.WAITING:
        waiting = f" — {at} waits for approval" if level else ""
        return f"{_OUTCOME_ICONS[Outcome.WAITING]} *In progress*{waiting}"
    if flow.outcome is Outcome.APPROVED:
        return f"{_OUTCOME_ICONS[Outcome.APPROVED]} *Approved* — all {count} levels approved"
    if flow.outcome is Outcome.REJECTED:
        return f"{_OUTCOME_ICONS[Outcome.REJECTED]} *Rejected* at {at}"
    return f"{_OUTCOME_ICONS[flow.outcome]} *Stopped* — {at} {flow.outcome.label.lower()}"


def flow_root(flow: FlowState) -> list[Block]:
    """The flow's root message: what it is, the ladder, where it stands, a link to the execution."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=truncate(f"Approval flow: {flow.name}", _HEADER_MAX)))
    ]
    if flow.description:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=truncate(f"*{escape(flow.description)}*", _SECTION_MAX)
                )
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
                        _SECTION_MAX,
                    )
                )
            ]
        )
    )
    return blocks


def flow_root_text(flow: FlowState) -> str:
    """The notification text that goes with the root message's blocks."""
    return truncate(f"Approval flow {escape(flow.name)}: {ladder_line(flow)}", _SECTION_MAX)


def flow_outcome_text(flow: FlowState, error: str | None = None) -> str:
    """Said once in the thread when the flow ends; `error` is what Step Functions was told."""
    count = len(flow.levels)
    level = flow.deciding_level()
    if flow.outcome is Outcome.APPROVED:
        return (
            f"{_OUTCOME_ICONS[Outcome.APPROVED]} *Flow approved*: all {count} levels approved. "
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
            f"{_OUTCOME_ICONS[Outcome.REJECTED]} *Flow rejected* at {at}"
            f"{' by ' + by if by else ''}.{later}"
        )
    told = f" Step Functions was told ({literal(error)}), so the flow fails now." if error else ""
    why = {
        Outcome.TIMED_OUT: f"{at} timed out with {level.done} of {level.needed} approvals",
        Outcome.CANCELLED: f"the approval of {at} was cancelled before a decision",
    }.get(flow.outcome, f"the approval of {at} failed; see the execution in the SSM console")
    return f"{_OUTCOME_ICONS[flow.outcome]} *Flow stopped*: {why}.{told}{later}"


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
        thread = _link(thread_link, "the flow's thread")
        return (
            f"{_OUTCOME_ICONS[Outcome.WAITING]} {head} needs approval "
            f"({level.done} of {level.needed} so far). Its card is in {thread} in {where}."
        )
    step = ladder_step(level, flow.people).split(" ", 2)[2]
    thread = _link(thread_link, "The flow's thread")
    return f"{head}: {step}. {thread} is in {where}."


def _link(url: str | None, words: str) -> str:
    # Slack's <url|words> breaks on "|", "<", ">" or a space in the URL (a permalink has none);
    # "&" is escaped there as in any message text (a reply's permalink has "&cid=").
    if not url or not url.startswith(("https://", "http://")) or any(c in url for c in "|<> "):
        return words
    return f"<{url.replace('&', '&amp;')}|{words}>"


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
    return [SectionBlock(text=MarkdownTextObject(text=truncate(text, _SECTION_MAX)))]
