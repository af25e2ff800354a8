"""Bolt's Lambda adapter behind the signature check: one asynchronous self-invocation per lazy
listener, with the Lambda client Signoff gives it, and what each runs."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult

from bot.lambda_adapter import VerifiedRequestHandler
from tests.support.signed import (
    FUNCTION_ARN,
    LambdaContext,
    block_actions,
    function_url_event,
    signed_request,
)

SECRET = "test-signing-secret-not-real"


class RecordingLambda:
    """Stands in for a boto3 Lambda client: keeps each Invoke's arguments."""

    def __init__(self) -> None:
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.invocations.append(kwargs)
        return {"StatusCode": 202}


def _handler(ran: list[str]) -> tuple[VerifiedRequestHandler, RecordingLambda]:
    app = App(
        name="test",
        signing_secret=SECRET,
        authorize=lambda enterprise_id, team_id: AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-test-not-real"
        ),
        process_before_response=True,
    )

    def on_click(ack: Ack) -> None:
        ack()
        ran.append("ack")

    def first_lazy(body: dict[str, Any]) -> None:
        ran.append("first:" + body["actions"][0]["value"])

    def second_lazy(body: dict[str, Any]) -> None:
        ran.append("second:" + body["user"]["id"])

    app.action("approve")(ack=on_click, lazy=[first_lazy, second_lazy])
    recorder = RecordingLambda()
    return VerifiedRequestHandler(app, SECRET, lambda_client=recorder), recorder


def _click_event() -> dict[str, Any]:
    body, headers = signed_request(block_actions("U0ALICE", "approve", "exec-1|Approve"), SECRET)
    return function_url_event(body, headers)


def test_each_lazy_listener_is_one_asynchronous_invocation_of_the_same_function() -> None:
    ran: list[str] = []
    handler, recorder = _handler(ran)
    event = _click_event()
    original = copy.deepcopy(event)

    response = handler.handle(event, LambdaContext())

    assert response["statusCode"] == 200
    assert ran == ["ack"]  # the lazy listeners run in their own invocations, not this one
    assert [(i["FunctionName"], i["InvocationType"]) for i in recorder.invocations] == [
        (FUNCTION_ARN, "Event"),
        (FUNCTION_ARN, "Event"),
    ]
    payloads = [json.loads(i["Payload"]) for i in recorder.invocations]
    assert [p["headers"]["x-slack-bolt-lazy-function-name"] for p in payloads] == [
        "first_lazy",
        "second_lazy",
    ]
    for payload in payloads:
        assert payload["headers"]["x-slack-bolt-lazy-only"] == "1"
        assert payload["body"] == original["body"]  # still Slack's signed body, verified again
        assert payload["requestContext"] == original["requestContext"]


def test_a_lazy_invocation_runs_only_its_own_listener() -> None:
    ran: list[str] = []
    handler, recorder = _handler(ran)
    handler.handle(_click_event(), LambdaContext())
    first, second = (json.loads(i["Payload"]) for i in recorder.invocations)
    ran.clear()

    handler.handle(second, LambdaContext())
    handler.handle(first, LambdaContext())

    assert ran == ["second:U0ALICE", "first:exec-1|Approve"]
    assert len(recorder.invocations) == 2  # a lazy invocation starts nothing more


def test_anything_but_a_signed_post_is_answered_as_bolts_adapter_answers_it() -> None:
    handler, recorder = _handler([])
    signed_get = _click_event()
    signed_get["requestContext"]["http"]["method"] = "GET"
    assert handler.handle(signed_get, LambdaContext())["statusCode"] == 404  # no OAuth pages
    unsigned = _click_event()
    unsigned["headers"]["x-slack-signature"] = "v0=" + "0" * 64
    assert handler.handle(unsigned, LambdaContext())["statusCode"] == 401
    assert recorder.invocations == []


def test_a_failure_inside_bolt_is_raised_not_answered_as_an_unreadable_body() -> None:
    # A TypeError from Signoff's or Bolt's own code (as a TLS context Bolt could not copy for a
    # lazy listener once was) must surface in the log, not pass for a bad request.
    handler, _ = _handler([])

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("cannot pickle 'SSLContext' object")

    handler.bolt.app.dispatch = broken  # type: ignore[method-assign]
    body, headers = signed_request(block_actions("U0ALICE", "approve", "x"), SECRET)

    with pytest.raises(TypeError, match="SSLContext"):
        handler.handle(function_url_event(body, headers), LambdaContext())
