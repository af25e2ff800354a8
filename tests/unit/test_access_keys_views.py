"""What /request-key shows: the form, its errors, the DMs and thread lines for each outcome."""

from __future__ import annotations

import json

import pytest

from bot import views
from bot.access_key_models import KeyOutcome, KeyRequest, KeyStatus, OutcomeKind
from bot.models import Approval, Decision, Outcome, Verdict

EID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
NAME = "dave/access-key-20261123T101500Z"
BOB = "arn:aws:sts::123456789012:assumed-role/SignoffApprover/U0BOB"


def outcome(kind: OutcomeKind, **changes: object) -> KeyOutcome:
    base: dict[str, object] = {
        "kind": kind,
        "execution_id": EID,
        "iam_user": "dave",
        "requester": "U0DAVE",
    }
    return KeyOutcome(**(base | changes))  # type: ignore[arg-type]


def test_the_form_asks_for_the_iam_user_and_a_reason() -> None:
    modal = views.key_request_modal()
    modal.validate_json()
    data = modal.to_dict()
    assert data["callback_id"] == views.VIEW_KEY_REQUEST
    inputs = {b["block_id"]: b for b in data["blocks"] if b["type"] == "input"}
    assert inputs[views.KEY_USER_BLOCK]["element"]["action_id"] == views.KEY_USER_ACTION
    assert inputs[views.KEY_USER_BLOCK]["element"]["max_length"] == 64
    assert inputs[views.KEY_REASON_BLOCK]["element"]["action_id"] == views.KEY_REASON_ACTION
    assert (
        "optional" not in inputs[views.KEY_REASON_BLOCK]
        or not inputs[views.KEY_REASON_BLOCK]["optional"]
    )


def test_errors_land_under_the_field_they_are_about() -> None:
    assert views.key_request_errors("reason", "Say why") == {views.KEY_REASON_BLOCK: "Say why"}
    assert views.key_request_errors("iam_user", "No such user") == {
        views.KEY_USER_BLOCK: "No such user"
    }


def test_the_issued_dm_names_the_secret_and_the_exact_command_to_read_it() -> None:
    text = views.key_outcome_dm(outcome(OutcomeKind.ISSUED, secret_name=NAME))
    assert f"`{NAME}`" in text
    assert (
        f"```aws secretsmanager get-secret-value --secret-id '{NAME}' "
        "--query SecretString --output text```"
    ) in text
    assert "only `dave`" in text


def test_the_thread_tells_the_same_without_the_command() -> None:
    text = views.key_outcome_thread(outcome(OutcomeKind.ISSUED, secret_name=NAME))
    assert NAME in text and "<@U0DAVE>" in text
    assert "get-secret-value" not in text


@pytest.mark.parametrize(
    ("kind", "changes", "expected"),
    [
        (
            OutcomeKind.REJECTED,
            {"decided_by": (BOB,), "comment": "Use SSO <!channel>"},
            "rejected by <@U0BOB>: Use SSO &lt;!channel&gt;",
        ),
        (OutcomeKind.REFUSED, {"refusal": KeyStatus.KEY_LIMIT}, "already has 2 access keys"),
        (OutcomeKind.REFUSED, {"refusal": KeyStatus.USER_NOT_FOUND}, "no longer exists"),
        (
            OutcomeKind.REFUSED,
            {"refusal": KeyStatus.OUT_OF_PATH},
            "`dave` is no longer under the IAM path Signoff may issue keys for",
        ),
        (OutcomeKind.REFUSED, {"refusal": KeyStatus.NOT_APPROVED}, "no valid approval"),
        (OutcomeKind.TIMED_OUT, {}, "before it timed out"),
        (OutcomeKind.CANCELLED, {}, "was cancelled"),
        (OutcomeKind.FAILED, {"failure": "Lambda timed out"}, "failed: Lambda timed out"),
    ],
)
def test_every_other_outcome_says_what_happened_in_dm_and_thread(
    kind: OutcomeKind, changes: dict[str, object], expected: str
) -> None:
    result = outcome(kind, **changes)
    dm, thread = views.key_outcome_dm(result), views.key_outcome_thread(result)
    assert expected in dm and expected in thread
    assert EID in dm
    assert "<@U0DAVE>" in thread
    assert "get-secret-value" not in dm + thread


def test_the_started_answer_says_for_whom_why_and_what_comes_next() -> None:
    text = views.key_request_started_text(KeyRequest("U0DAVE", "dave", "CI <deploy>", EID))
    assert "`dave`" in text and "CI &lt;deploy&gt;" in text and EID in text
    assert "DM" in text
    assert views.key_request_refused_text("nope").startswith(":no_entry: No request started")


def _approved_card() -> Approval:
    return Approval(
        execution_id=EID,
        step_name="ApproveKey",
        document_name="Signoff-AccessKey",
        region="us-east-1",
        outcome=Outcome.APPROVED,
        approvers=("arn:aws:iam::123456789012:role/SignoffApprover",),
        min_required=1,
        decisions=(Decision(BOB, Verdict.APPROVE),),
        parameters={"IamUser": ("dave",), "RequesterSlackId": ("U0DAVE",)},
    )


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (KeyStatus.KEY_LIMIT, "already has 2 access keys"),
        (KeyStatus.NOT_RECORDED, "Signoff did not start this request"),
        (KeyStatus.OUT_OF_PATH, "no longer under the IAM path"),
    ],
)
def test_an_approved_card_whose_key_was_not_issued_says_so(status: KeyStatus, says: str) -> None:
    blocks = views.key_request_card(_approved_card(), outcome(OutcomeKind.REFUSED, refusal=status))
    text = json.dumps([b.to_dict() for b in blocks])
    assert "*Approved* by <@U0BOB>" in text
    assert "No access key was created for `dave`" in text and says in text
    assert not any(b.to_dict()["type"] == "actions" for b in blocks)
