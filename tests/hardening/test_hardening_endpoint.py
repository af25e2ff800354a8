"""Requests the fuzzer found crashing the Slack endpoint before it knew who sent them.

Bolt's Lambda adapter parsed the body before verifying the signature, and slack_sdk's verifier
raised on some headers instead of refusing them: each of these unsigned requests raised out of
the function (a 502 from the Function URL) or answered 500 with a traceback logged at ERROR.
"""

from __future__ import annotations

import base64
import time

import pytest

from tests.hardening.conftest import AwsCalls, Endpoint
from tests.support.signed import block_actions, payload_body, signed_headers
from tests.support.world import SIGNING_SECRET, World

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param("payload=0", FORM, id="unsigned payload that is not an object"),
        pytest.param("payload=%EF%BB%BF", FORM, id="unsigned payload that is not JSON"),
        pytest.param(
            "payload={}",
            {**FORM, "x-slack-request-timestamp": "abc", "x-slack-signature": "v0=00"},
            id="timestamp that is not a number",
        ),
        pytest.param(
            "payload={}",
            {**FORM, "x-slack-request-timestamp": str(int(time.time())), "x-slack-signature": "é"},
            id="signature that is not ASCII",
        ),
        pytest.param(
            b"\x80\xff",
            {**FORM, **signed_headers("\x80\xff", SIGNING_SECRET)},
            id="body that is not UTF-8",
        ),
    ],
)
def test_unverifiable_requests_are_refused_quietly(
    world: World,
    slack_endpoint: Endpoint,
    aws_calls: AwsCalls,
    caplog: pytest.LogCaptureFixture,
    body: str | bytes,
    headers: dict[str, str],
) -> None:
    response = slack_endpoint(body, headers)

    assert response["statusCode"] == 401
    assert aws_calls.calls == []
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_signed_request_that_is_not_a_slack_payload_is_a_bad_request(
    world: World, slack_endpoint: Endpoint, aws_calls: AwsCalls
) -> None:
    body = "payload=0"
    response = slack_endpoint(body, signed_headers(body, SIGNING_SECRET))

    assert response["statusCode"] == 400
    assert aws_calls.calls == []


def test_a_base64_encoded_signed_request_still_works(
    world: World, slack_endpoint: Endpoint
) -> None:
    # Function URLs base64-encode bodies they take for binary; a genuine request must survive it.
    body = payload_body(block_actions("U0ALICE", "no_such_button", "x"))
    encoded = base64.b64encode(body.encode()).decode()
    response = slack_endpoint(encoded, signed_headers(body, SIGNING_SECRET), isBase64Encoded=True)

    assert response["statusCode"] == 404  # verified, parsed, and no listener for that button
