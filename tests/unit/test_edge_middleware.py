"""The replay record and the workspace pin, as Bolt runs them on each request."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_bolt import BoltContext, BoltRequest, BoltResponse

from bot.errors import ServiceError
from bot.gateways.tables import SlackRequestLog
from bot.slack_edge import once_per_request, pinned_workspace

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
SIGNATURE = "v0=" + "ab" * 32


def test_a_request_is_recorded_once_and_each_lazy_function_runs_once(table: Any) -> None:
    log = SlackRequestLog(table, lambda: NOW)

    assert log.claim_lazy(SIGNATURE, "on_decision_send") is False  # never acknowledged
    assert log.first_time(SIGNATURE) is True
    assert log.first_time(SIGNATURE) is False  # the replay
    assert log.claim_lazy(SIGNATURE, "on_decision_send") is True
    assert log.claim_lazy(SIGNATURE, "on_decision_send") is False
    assert log.claim_lazy(SIGNATURE, "on_card_click_check") is True
    item = table.client.get_item(
        TableName=table.name,
        Key={"pk": {"S": f"slack-request#{SIGNATURE}"}, "sk": {"S": "request"}},
    )["Item"]
    # Gone (TTL) soon after Slack's 5-minute window, when it could not come back signed anyway.
    assert int(item["expires_at"]["N"]) == int(NOW.timestamp()) + 600


class Log:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: set[str] = set()
        self.lazy: set[tuple[str, str]] = set()

    def first_time(self, signature: str) -> bool:
        if self.fail:
            raise ServiceError("DynamoDB is down")
        fresh = signature not in self.seen
        self.seen.add(signature)
        return fresh

    def claim_lazy(self, signature: str, function: str) -> bool:
        if signature not in self.seen or (signature, function) in self.lazy:
            return False
        self.lazy.add((signature, function))
        return True


def request(**headers: str) -> BoltRequest:
    return BoltRequest(body="payload=%7B%7D", headers={"x-slack-signature": SIGNATURE, **headers})


def run(middleware: Any, **kwargs: Any) -> tuple[BoltResponse | None, bool]:
    called = []
    response = middleware(next=lambda: called.append(True), **kwargs)
    return response, bool(called)


def test_the_replay_guard_passes_an_original_and_its_lazy_pass_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard = once_per_request(Log())
    lazy = {"x-slack-bolt-lazy-only": "1", "x-slack-bolt-lazy-function-name": "on_decision_send"}

    assert run(guard, req=request()) == (None, True)
    assert run(guard, req=request(**lazy)) == (None, True)
    for replay in (request(), request(**lazy)):
        response, passed = run(guard, req=replay)
        assert not passed and response is not None and response.status == 401
    assert sum("replay" in r.getMessage() for r in caplog.records) == 2


def test_socket_mode_requests_are_not_replay_checked_they_carry_no_signature() -> None:
    # `signoff dev`: Slack sends each request once down the app's own WebSocket (opened with the
    # app-level token); nothing is signed, and the Function URL a replay would need is not
    # involved. A record keyed on the missing signature would refuse every request after the
    # first. The log fails if asked: a Socket Mode request must not ask it.
    guard = once_per_request(Log(fail=True))
    for _ in range(2):
        socket_request = BoltRequest(body={"type": "block_actions"}, mode="socket_mode")
        assert run(guard, req=socket_request) == (None, True)


def test_the_replay_guard_refuses_what_it_cannot_check() -> None:
    response, passed = run(once_per_request(Log(fail=True)), req=request())
    assert not passed and response is not None and response.status == 503


@pytest.mark.parametrize(
    ("team", "app", "passes"),
    [
        ("T0SIGNOFF", "A0SIGNOFF", True),
        ("T0OTHER", "A0SIGNOFF", False),
        (None, "A0SIGNOFF", False),
        ("T0SIGNOFF", "A0OTHER", False),
        ("T0SIGNOFF", None, False),
    ],
)
def test_the_workspace_pin_passes_only_the_configured_team_and_app(
    team: str | None, app: str | None, passes: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    context = BoltContext({"team_id": team} if team else {})
    body = {"api_app_id": app} if app else {}

    response, passed = run(pinned_workspace("T0SIGNOFF", "A0SIGNOFF"), context=context, body=body)

    assert passed is passes
    if not passes:
        assert response is not None and response.status == 401
        assert any("another workspace" in r.getMessage() for r in caplog.records)


def test_without_an_app_id_any_app_of_the_workspace_passes() -> None:
    context = BoltContext({"team_id": "T0SIGNOFF"})
    _, passed = run(pinned_workspace("T0SIGNOFF", None), context=context, body={})
    assert passed
