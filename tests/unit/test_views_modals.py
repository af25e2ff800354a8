"""The modals as a person reads them: each word once, a rejection that looks like one, a form that
already knows who is asking."""

from __future__ import annotations

from typing import Any

import pytest

from bot import views
from bot.models import DecisionTarget, Verdict


def target(verdict: Verdict) -> DecisionTarget:
    return DecisionTarget("e", "s", verdict, "C1", "1.2")


def as_read(block: dict[str, Any]) -> str:
    """An input block's words as Slack shows them: Slack itself writes "(optional)" after the
    label of an input block with `optional: true` (the emulator does the same)."""
    element = block["element"]
    return " ".join(
        [
            block["label"]["text"] + (" (optional)" if block.get("optional") else ""),
            block.get("hint", {}).get("text", ""),
            element.get("placeholder", {}).get("text", ""),
        ]
    )


def comment_block(verdict: Verdict) -> dict[str, Any]:
    modal = views.decision_modal(target(verdict), "Deploy?").to_dict()
    [block] = [b for b in modal["blocks"] if b.get("block_id") == views.COMMENT_BLOCK]
    return block


@pytest.mark.parametrize("verdict", list(Verdict))
def test_the_decision_modal_says_optional_at_most_once(verdict: Verdict) -> None:
    read = as_read(comment_block(verdict)).lower()
    assert read.count("optional") == (1 if verdict is Verdict.APPROVE else 0)


def test_the_reject_modal_says_what_rejecting_does_before_the_summary() -> None:
    reject = views.decision_modal(target(Verdict.REJECT), "Deploy?").to_dict()
    approve = views.decision_modal(target(Verdict.APPROVE), "Deploy?").to_dict()
    # A modal's submit is plain text only (no `style`): the warning is in the modal itself.
    assert reject["submit"] == {"type": "plain_text", "text": "Reject"}
    first = reject["blocks"][0]["text"]["text"]
    assert first.startswith(":no_entry: *Rejecting stops the run") and "Deploy?" in first
    assert "no_entry" not in approve["blocks"][0]["text"]["text"]


def key_user_element(modal: dict[str, Any]) -> dict[str, Any]:
    [block] = [b for b in modal["blocks"] if b.get("block_id") == views.KEY_USER_BLOCK]
    element: dict[str, Any] = block["element"]
    return element


def test_the_key_form_starts_with_the_requesters_own_iam_user() -> None:
    modal = views.key_request_modal(iam_user="dave")
    modal.validate_json()
    assert key_user_element(modal.to_dict())["initial_value"] == "dave"


def test_the_key_form_of_someone_with_no_iam_user_starts_empty() -> None:
    assert "initial_value" not in key_user_element(views.key_request_modal().to_dict())
