"""The EventBridge result Lambda: SSM status events reach the result service; others are ignored."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import handlers.automation_result
from bot.events import AutomationStatusEvent
from tests.support.signed import LambdaContext

FIXTURES = Path(__file__).parent.parent / "fixtures"


def step_event() -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "eventbridge_ssm_step_status.json").read_text()))


class Results:
    def __init__(self) -> None:
        self.seen: list[AutomationStatusEvent] = []

    def handle(self, status: AutomationStatusEvent) -> dict[str, str]:
        self.seen.append(status)
        return {"result": "synced"}


def run(monkeypatch: pytest.MonkeyPatch, event: Any) -> tuple[Any, Results]:
    results = Results()
    monkeypatch.setattr(
        handlers.automation_result, "services", lambda: SimpleNamespace(results=results)
    )
    return handlers.automation_result.lambda_handler(event, LambdaContext()), results  # type: ignore[arg-type]


def test_an_ssm_status_event_reaches_the_result_service(monkeypatch: pytest.MonkeyPatch) -> None:
    result, results = run(monkeypatch, step_event())

    assert result == {"result": "synced"}
    assert [s.detail.execution_id for s in results.seen] == ["333ba70b-2333-48db-b17e-a5e69c6f4d1c"]


@pytest.mark.parametrize(
    "execution_id", ["not-a-uuid", "../../etc", "", "333ba70b-2333-48db-b17e-a5e69c6f4d1c:Step"]
)
def test_an_execution_id_that_is_not_ssms_is_ignored_with_a_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, execution_id: str
) -> None:
    event = copy.deepcopy(step_event())
    event["detail"]["ExecutionId"] = execution_id

    result, results = run(monkeypatch, event)

    assert result["result"] == "ignored"
    assert "ExecutionId" in result["reason"]
    assert results.seen == []
    assert any("ignored" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("event", [{"detail": "notadict"}, {}, {"Records": "notalist"}])
def test_an_event_that_is_not_an_ssm_status_event_is_ignored(
    monkeypatch: pytest.MonkeyPatch, event: dict[str, Any]
) -> None:
    result, results = run(monkeypatch, event)

    assert result["result"] == "ignored"
    assert results.seen == []
