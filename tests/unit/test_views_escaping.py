"""Hostile user text in every view: it cannot mention, link, format, quote or turn around."""

from __future__ import annotations

import json
import re

import pytest

from bot import views
from bot.access_key_models import KeyOutcome, KeyRequest, OutcomeKind
from bot.errors import NotMapped
from bot.models import Decision, DecisionTarget, Outcome, Verdict
from tests.unit.test_views import ACCT, ALICE, approval

# Each would do something on a card if it reached Slack's mrkdwn as typed.
HOSTILE = (
    "<!channel> <!here> <@U0BOSS> <#C0SECRET> <https://evil.example|click me> "
    "*bold* _italic_ ~struck~ `code` ```block``` a&b "
    "\u202eevil\u202c \u2066iso\u2069 \u200emark\u200f \u061carabic\n> quoted\n  > indented quote"
)
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# What mrkdwn reads in the hostile text: a special (<!…>, <@…>, <#…>, <url|…>), a quote at a
# line start (also once escaped to &gt;), or a formatting pair around a word.
MARKUP = re.compile(r"<[!@#h]|^\s*(?:>|&gt;)|(?:^|\s)[*_~`][^\s*_~`]+[*_~`](?:\s|$)", re.MULTILINE)


def inert(text: str) -> None:
    assert not BIDI.search(text), text
    assert not MARKUP.search(text), text
    assert "evil" in text and "bold" in text and "quoted" in text  # still said, only inert


def texts(built: object) -> list[str]:
    """Every mrkdwn string in a view, blocks or text, as Slack would get it."""
    if isinstance(built, str):
        return [built]
    raw = built.to_dict() if hasattr(built, "to_dict") else [b.to_dict() for b in built]  # type: ignore[attr-defined, union-attr]
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(str(node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(raw)
    return found


def hostile_of(texts_: list[str]) -> str:
    """The part of the view that carries the hostile text (the view's own markup aside)."""
    [text] = [t for t in texts_ if "evil" in t] or [""]
    start = text.index("&lt;!channel")
    return text[start:]


@pytest.mark.parametrize(
    "built",
    [
        pytest.param(lambda: views.approval_card(approval(message=HOSTILE)), id="card message"),
        pytest.param(
            lambda: views.approval_card(approval(description=HOSTILE, message="m")),
            id="card description",
        ),
        pytest.param(
            lambda: views.approval_card(approval(parameters={"RequestReason": (HOSTILE,)})),
            id="card reason",
        ),
        pytest.param(
            lambda: views.decision_text(ALICE, Verdict.REJECT, HOSTILE), id="decision comment"
        ),
        pytest.param(
            lambda: views.outcome_text(
                approval(
                    outcome=Outcome.REJECTED,
                    decisions=(Decision(ALICE, Verdict.REJECT, comment=HOSTILE),),
                )
            ),
            id="outcome",
        ),
        pytest.param(
            lambda: views.key_request_started_text(
                KeyRequest("U0DAVE", "dave", HOSTILE, execution_id="e")
            ),
            id="key request reason",
        ),
        pytest.param(
            lambda: views.key_outcome_dm(
                KeyOutcome(OutcomeKind.REJECTED, "e", "dave", "U0DAVE", comment=HOSTILE)
            ),
            id="key rejection comment",
        ),
        pytest.param(
            lambda: views.key_outcome_dm(
                KeyOutcome(OutcomeKind.FAILED, "e", "dave", "U0DAVE", failure=HOSTILE)
            ),
            id="key failure",
        ),
        pytest.param(
            lambda: views.decision_modal(
                DecisionTarget("e", "s", Verdict.APPROVE, "C0", "1.0"), HOSTILE
            ),
            id="decision modal summary",
        ),
    ],
)
def test_hostile_user_text_reaches_each_view_inert(built: object) -> None:
    made = built()  # type: ignore[operator]
    inert(hostile_of(texts(made)))


@pytest.mark.parametrize(
    "built",
    [
        pytest.param(lambda: views.refusal_text(f"no: {HOSTILE}"), id="private refusal"),
        pytest.param(
            lambda: views.notice_modal("Not possible", views.escape_message(f"no: {HOSTILE}")),
            id="refusal modal",
        ),
        pytest.param(lambda: views.key_request_refused_text(HOSTILE), id="key refusal"),
    ],
)
def test_a_refusal_quoting_hostile_text_cannot_mention_link_or_turn_around(
    built: object,
) -> None:
    # Signoff's own refusals keep their `code` (e.g. "IAM user `ghost`"), so only specials and
    # bidi controls are neutralised in them.
    text = hostile_of(texts(built()))  # type: ignore[operator]
    assert not BIDI.search(text)
    assert not re.search(r"<[!@#h]", text)
    assert views.refusal_text("IAM user `ghost` <!here>") == (
        ":no_entry: IAM user `ghost` &lt;!here&gt;"
    )


def test_the_not_mapped_help_shows_its_placeholder_as_text() -> None:
    refusal = NotMapped(
        "Ask an admin to run: signoff users map U0MALLORY --role <approver-role-arn>"
    )
    note = views.refusal_text(str(refusal))
    assert "&lt;approver-role-arn&gt;" in note
    assert "<approver" not in note


def test_names_in_code_spans_keep_their_characters_but_cannot_close_the_span() -> None:
    # An IAM user name may hold `_` (a command copied from the DM must still work).
    outcome = KeyOutcome(
        OutcomeKind.ISSUED, "e", "deploy_bot", "U0DAVE", secret_name="keys/deploy_bot/access-key"
    )
    dm = views.key_outcome_dm(outcome)
    assert "`deploy_bot`" in dm
    assert "--secret-id 'keys/deploy_bot/access-key'" in dm
    assert views.literal("a`b") == "`a\u02cbb`"


def test_a_requester_that_is_not_a_slack_id_is_not_a_mention() -> None:
    card = json.dumps(
        [
            b.to_dict()
            for b in views.approval_card(
                approval(parameters={"RequesterSlackId": ("U0X> <!channel",)})
            )
        ]
    )
    assert "<!channel" not in card
    assert "<@U0X" not in card
    assert "<@U0DAVE>" in views.mention("U0DAVE")
    assert ACCT  # the shared builders come from test_views
