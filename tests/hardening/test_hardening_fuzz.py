"""Fuzzing the Slack endpoint: forged requests get 401 and touch nothing; odd signed ones no crash.

The endpoint is `handlers.slack_events.lambda_handler` behind its Function URL event, in a world
with a real waiting approval and a mapped approver, so a forged "Approve" names an execution and
a person that would work if the request were genuine.
"""

from __future__ import annotations

import json
import string
import time
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.models import DecisionTarget, Verdict
from bot.views import (
    ACTION_APPROVE,
    ACTION_REJECT,
    COMMAND_REQUEST_KEY,
    VIEW_DECISION,
)
from tests.hardening.conftest import AwsCalls, Endpoint
from tests.support.signed import block_actions, payload_body, signed_headers
from tests.support.world import ACCOUNT, BOT_TOKEN, SIGNING_SECRET, World

ALICE_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/SignoffApprover/U0ALICE"
WORLD_SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
NO_SUCH_EXECUTION = "00000000-0000-4000-8000-000000000000"
FIVE_MINUTES = 300

# Text Slack or an attacker might send: control characters, RTL marks, emoji, lone surrogates
# are impossible in UTF-8, but every other code point is fair game.
odd_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]), min_size=0, max_size=300
) | st.sampled_from(["", "\u202e", "\x00", "\ufeff", "🙂" * 600, "A" * 10_000, "../../etc", "%"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture
def waiting(world: World) -> str:
    """A real approval waiting for alice, with its card posted."""
    world.map_user("U0ALICE", "alice")
    world.map_user("U0BOB", "bob")
    execution_id = world.start_approval([ALICE_SESSION])
    assert execution_id in world.card_text()
    return execution_id


def decisions(world: World, execution_id: str) -> list[Any]:
    return list(world.approve_step(execution_id).get("Outputs", {}).get("ApproverDecisions", []))


def slack_call_count(world: World) -> int:
    return len(world.control("GET", "calls")["calls"])


# -- forged, tampered, stale and future requests ------------------------------------------------


@st.composite
def genuine_looking_bodies(draw: st.DrawFn, execution_id: str) -> str:
    """What an attacker would most like accepted: a click or a decision on the real approval."""
    user = draw(st.sampled_from(["U0ALICE", "U0BOB", "U0MALLORY"]))
    kind = draw(st.sampled_from(["click", "decision", "command", "payload", "raw"]))
    if kind == "click":
        action = draw(st.sampled_from([ACTION_APPROVE, ACTION_REJECT]))
        return payload_body(block_actions(user, action, f"{execution_id}:ApprovalAction"))
    if kind == "decision":
        metadata = {
            "execution_id": execution_id,
            "verdict": draw(st.sampled_from(["Approve", "Reject"])),
            "channel": "C0APPROVALS",
            "ts": "1.000001",
        }
        view = {"callback_id": VIEW_DECISION, "private_metadata": json.dumps(metadata)}
        return payload_body({"type": "view_submission", "user": {"id": user}, "view": view})
    if kind == "command":
        return urlencode({"command": COMMAND_REQUEST_KEY, "user_id": user, "text": "dave x"})
    if kind == "payload":
        # Bolt parses `payload=` before it verifies the signature: junk here once crashed it.
        return "payload=" + quote(draw(odd_text | st.builds(json.dumps, json_values)))
    return draw(odd_text)


@st.composite
def forged_requests(draw: st.DrawFn, execution_id: str) -> tuple[str | bytes, dict[str, str], str]:
    body: str | bytes = draw(genuine_looking_bodies(execution_id) | st.binary(max_size=200))
    text = body if isinstance(body, str) else body.decode("latin-1")
    now = int(time.time())
    attack = draw(
        st.sampled_from(
            [
                "none",
                "timestamp only",
                "signature only",
                "garbage signature",
                "wrong secret",
                "tampered body",
                "stale",
                "future",
                "empty secret",
            ]
        )
    )
    headers: dict[str, str] = {"content-type": "application/x-www-form-urlencoded"}
    if attack == "timestamp only":
        headers["x-slack-request-timestamp"] = str(now)
    elif attack == "signature only":
        headers["x-slack-signature"] = signed_headers(text, SIGNING_SECRET, now)[
            "x-slack-signature"
        ]
    elif attack == "garbage signature":
        headers["x-slack-request-timestamp"] = draw(
            st.sampled_from([str(now), "", "abc", "1e9", " " + str(now)]) | odd_text
        )
        headers["x-slack-signature"] = draw(
            st.sampled_from(["", "v0=", "v1=" + "0" * 64, "v0=" + "0" * 64]) | odd_text
        )
    elif attack == "wrong secret":
        secret = draw(st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=40))
        if secret == SIGNING_SECRET:
            secret += "x"
        headers.update(signed_headers(text, secret, now))
    elif attack == "tampered body":
        headers.update(signed_headers(text, SIGNING_SECRET, now))
        body = text + draw(st.text(min_size=1, max_size=20))
    elif attack == "stale":
        age = draw(st.integers(min_value=FIVE_MINUTES + 2, max_value=10 * 365 * 86400))
        headers.update(signed_headers(text, SIGNING_SECRET, now - age))
    elif attack == "future":
        ahead = draw(st.integers(min_value=FIVE_MINUTES + 2, max_value=10 * 365 * 86400))
        headers.update(signed_headers(text, SIGNING_SECRET, now + ahead))
    elif attack == "empty secret":
        headers["x-slack-request-timestamp"] = str(now)
        headers["x-slack-signature"] = "v0=" + _hmac_hex("", f"v0:{now}:{text}")
    if draw(st.booleans()):
        # Lambda's own lazy re-invocation headers, forged from outside: they buy nothing.
        headers["x-slack-bolt-lazy-only"] = "1"
        headers["x-slack-bolt-lazy-function-name"] = "on_decision_send"
    method = draw(st.sampled_from(["POST", "POST", "POST", "NONE", "GET", "PUT"]))
    return body, headers, method


def _hmac_hex(secret: str, message: str) -> str:
    import hashlib
    import hmac

    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@WORLD_SETTINGS
@given(data=st.data())
def test_no_unsigned_request_is_accepted_or_reaches_aws(
    world: World, waiting: str, slack_endpoint: Endpoint, aws_calls: AwsCalls, data: st.DataObject
) -> None:
    slack_before = slack_call_count(world)
    body, headers, method = data.draw(forged_requests(waiting))
    mark = aws_calls.count()

    response = slack_endpoint(body, headers, method)

    assert response["statusCode"] in (401, 404), response
    if method in ("POST", "NONE"):
        assert response["statusCode"] == 401
    world.settle()
    assert aws_calls.since(mark) == []
    assert slack_call_count(world) == slack_before
    assert decisions(world, waiting) == []


def test_the_fuzzer_would_notice_an_accepted_request(
    world: World, waiting: str, slack_endpoint: Endpoint, aws_calls: AwsCalls
) -> None:
    # The same click, genuinely signed, is accepted and does reach AWS: the property above is
    # not passing because nothing could ever get through.
    body = payload_body(block_actions("U0MALLORY", ACTION_APPROVE, f"{waiting}:ApprovalAction"))
    mark = aws_calls.count()
    response = slack_endpoint(body, signed_headers(body, SIGNING_SECRET))
    world.settle()
    assert response["statusCode"] != 401
    assert aws_calls.since(mark)


# -- genuinely signed, but odd -----------------------------------------------------------------


@st.composite
def odd_payloads(draw: st.DrawFn) -> str:
    """Signed bodies that are unreadable, or Slack-shaped with odd values and unknown ids."""
    # Slack names the user: always a member of the workspace, mapped or not.
    user = draw(st.sampled_from(["U0ALICE", "U0BOB", "U0CAROL", "U0MALLORY"]))
    kind = draw(
        st.sampled_from(["form", "payload text", "payload json", "unknown action", "decision"])
    )
    if kind == "form":
        return draw(odd_text)
    if kind == "payload text":
        return "payload=" + quote(draw(odd_text))
    if kind == "payload json":
        return "payload=" + quote(json.dumps(draw(json_values)))
    if kind == "unknown action":
        action = draw(odd_text.filter(lambda a: a not in (ACTION_APPROVE, ACTION_REJECT)))
        return payload_body(block_actions("U0ALICE", action, draw(odd_text)))
    # private_metadata is the bot's own, round-tripped by Slack: well formed, about an execution
    # that may not exist (deleted, another region, or odd ids).
    metadata = DecisionTarget(
        execution_id=draw(st.sampled_from([NO_SUCH_EXECUTION, "", "../x"]) | odd_text),
        step_name=draw(st.none() | odd_text),
        verdict=draw(st.sampled_from(list(Verdict))),
        channel="C0APPROVALS",
        ts="1.000001",
    ).dumps()
    callback = draw(st.sampled_from([VIEW_DECISION]) | odd_text)
    return decision_submission(user, metadata, callback, draw(odd_text))


def decision_submission(
    user: str, metadata: str, callback: str = VIEW_DECISION, comment: str = ""
) -> str:
    view = {
        "id": "V0FUZZ",
        "type": "modal",
        "team_id": "T0SIGNOFF",
        "callback_id": callback,
        "private_metadata": metadata,
        "state": {
            "values": {"comment": {"comment_input": {"type": "plain_text_input", "value": comment}}}
        },
    }
    # The workspace and app as Slack names them in every request (the bot acts on no other).
    return payload_body(
        {
            "type": "view_submission",
            "team": {"id": "T0SIGNOFF"},
            "api_app_id": "A0SIGNOFF",
            "user": {"id": user},
            "view": view,
        }
    )


def _target(execution_id: str) -> str:
    return DecisionTarget(execution_id, None, Verdict.APPROVE, "C0APPROVALS", "1.000001").dumps()


@WORLD_SETTINGS
@given(body=odd_payloads())
# An id botocore refuses before sending (SSM's are 36 characters): the lazy decision once died
# on the ParamValidationError, and the approver was told nothing.
@example(body=decision_submission("U0ALICE", _target("x")))
@example(body=decision_submission("U0ALICE", _target(NO_SUCH_EXECUTION), comment="🙂" * 600))
def test_signed_odd_requests_never_crash_the_endpoint(
    world: World,
    waiting: str,
    slack_endpoint: Endpoint,
    caplog: pytest.LogCaptureFixture,
    body: str,
) -> None:
    caplog.clear()
    response = slack_endpoint(body, signed_headers(body, SIGNING_SECRET))
    world.settle()

    # 401: signed, but naming no workspace (or another one): refused by the workspace pin.
    assert response["statusCode"] in (200, 400, 401, 404), response
    crashes = [
        r.getMessage()
        for r in caplog.records
        if "unhandled error" in r.getMessage() or "Failed to run" in r.getMessage()
    ]
    assert crashes == []
    assert decisions(world, waiting) == []


# -- genuine clicks, through Slack, on cards about executions that do not exist ------------------


def post_card(world: World, value: str) -> str:
    """A card with Signoff's buttons carrying `value`, posted as the bot (a stale or odd card)."""
    buttons = [
        {"type": "button", "action_id": action, "text": {"type": "plain_text", "text": label}}
        | {"value": value}
        for action, label in ((ACTION_APPROVE, "Approve"), (ACTION_REJECT, "Reject"))
    ]
    response = requests.post(
        f"{world.slack_url}/api/chat.postMessage",
        headers={"Authorization": f"Bearer {BOT_TOKEN}"},
        json={
            "channel": "C0APPROVALS",
            "text": "card",
            "blocks": [{"type": "actions", "elements": buttons}],
        },
        timeout=10,
    ).json()
    assert response["ok"], response
    return str(response["ts"])


@WORLD_SETTINGS
@given(
    execution_id=st.sampled_from([NO_SUCH_EXECUTION, NO_SUCH_EXECUTION.upper(), "x"])
    | st.text(min_size=1, max_size=100),
    action=st.sampled_from([ACTION_APPROVE, ACTION_REJECT]),
)
def test_a_click_on_a_card_for_an_unknown_execution_is_explained(
    world: World, waiting: str, execution_id: str, action: str
) -> None:
    ts = post_card(world, f"{execution_id}:ApprovalAction")
    before = len(world.ephemeral("alice"))

    reply = world.control(
        "POST",
        "click",
        json={"user": "alice", "channel": "approvals", "ts": ts, "action_id": action},
    )
    world.settle()

    assert reply["status"] == 200, reply
    told = world.ephemeral("alice")[before:]
    assert len(told) == 1 and "No automation execution" in told[0], told
    assert decisions(world, waiting) == []
