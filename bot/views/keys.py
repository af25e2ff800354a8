"""Access keys (flow C, /request-key): the request modal, its answers, and the outcome lines.

The secret key never reaches these builders: they see a secret's name, never its value.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.access_key_models import REASON_MAX, KeyOutcome, KeyRequest, KeyStatus, OutcomeKind
from bot.models import Approval
from bot.views.approvals import COMMENT_MAX, approval_card
from bot.views.text import (
    FIELD_MAX,
    SECTION_MAX,
    ApproverPeople,
    People,
    escape,
    escape_message,
    literal,
    mention,
    notice_modal,
    principal_label,
    truncate,
)

# The command, callback and block ids: the listeners register on exactly these.
COMMAND_REQUEST_KEY = "/request-key"
VIEW_KEY_REQUEST = "key_request"
KEY_USER_BLOCK = "key_iam_user"
KEY_USER_ACTION = "key_iam_user_input"
KEY_REASON_BLOCK = "key_reason"
KEY_REASON_ACTION = "key_reason_input"
KEY_REASON_MAX = REASON_MAX
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
    return {_KEY_FIELD_BLOCKS.get(field, KEY_USER_BLOCK): truncate(message, FIELD_MAX)}


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
        SectionBlock(text=MarkdownTextObject(text=truncate(line, SECTION_MAX))),
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
