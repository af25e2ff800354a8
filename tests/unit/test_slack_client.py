"""The Slack client's own retries: a post only when Slack cannot have taken it; 429s waited out."""

from __future__ import annotations

from typing import Any
from urllib.error import URLError

from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.gateways.slack_client import PatientRateLimitRetryHandler, web_client


def _can_retry(handler: Any, method: str, **kwargs: Any) -> bool:
    request = HttpRequest(method="POST", url=f"https://slack.com/api/{method}", headers={})
    return bool(handler._can_retry(state=RetryState(), request=request, **kwargs))


def test_the_client_retries_a_post_only_when_slack_cannot_have_taken_it() -> None:
    connection, _, server = web_client("xoxb-fake", "https://slack.example/api/").retry_handlers
    server_error = HttpResponse(status_code=500, headers={}, body={})

    assert _can_retry(server, "chat.update", response=server_error)
    assert not _can_retry(server, "chat.postMessage", response=server_error)
    refused_connection = URLError(ConnectionRefusedError(111, "Connection refused"))
    assert _can_retry(connection, "chat.postMessage", error=refused_connection)
    assert not _can_retry(connection, "chat.postMessage", error=ConnectionResetError())
    assert _can_retry(connection, "chat.update", error=ConnectionResetError())


def test_the_client_waits_out_a_busy_channel_for_its_patience_not_a_retry_count() -> None:
    now = [0.0]
    rate_limit = PatientRateLimitRetryHandler(patience=40.0, clock=lambda: now[0])
    request = HttpRequest(method="POST", url="https://slack.com/api/chat.postMessage", headers={})
    busy = HttpResponse(status_code=429, headers={"Retry-After": ["1"]}, body={})
    state = RetryState()

    def may_retry() -> bool:
        return bool(rate_limit._can_retry(state=state, request=request, response=busy))

    waited = 0
    while may_retry():  # a channel with many cards ahead: one Retry-After per card
        state.increment_current_attempt()
        now[0] += 1.0
        waited += 1
    assert waited == 40, "far more than a fixed three tries, and never past the patience"
    fresh = RetryState()
    ok = HttpResponse(status_code=200, headers={}, body={})
    assert not rate_limit._can_retry(state=fresh, request=request, response=ok)
    assert PatientRateLimitRetryHandler in {
        type(h) for h in web_client("xoxb-fake", "https://slack.example/api/").retry_handlers
    }
