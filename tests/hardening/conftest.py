"""Hardening fixtures: a spy on every AWS call, the Slack endpoint called as Lambda calls it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.client import BaseClient

from tests.support.signed import LambdaContext, function_url_event
from tests.support.world import World

Endpoint = Callable[..., dict[str, Any]]


@dataclass
class AwsCalls:
    """Every AWS API call any boto3 client in this process made (the bot's, Bolt's, the test's)."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, service: str, operation: str) -> None:
        with self._lock:
            self.calls.append((service, operation))

    def count(self) -> int:
        with self._lock:
            return len(self.calls)

    def since(self, mark: int) -> list[tuple[str, str]]:
        with self._lock:
            return self.calls[mark:]


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> AwsCalls:
    """A spy on botocore itself: no client, session or thread can call AWS unseen."""
    spy = AwsCalls()
    original = BaseClient._make_api_call

    def spied(client: BaseClient, operation_name: str, api_params: Any) -> Any:
        spy.add(client.meta.service_model.service_name, operation_name)
        return original(client, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spied)
    return spy


@pytest.fixture
def slack_endpoint(world: World) -> Endpoint:
    """`handlers.slack_events.lambda_handler` called with the event a Function URL would build."""
    import handlers.slack_events

    def call(
        body: str | bytes, headers: dict[str, str], method: str = "POST", **event: Any
    ) -> dict[str, Any]:
        request = function_url_event(body, headers, method)
        request.update(event)
        response: dict[str, Any] = handlers.slack_events.lambda_handler(request, LambdaContext())
        return response

    return call
