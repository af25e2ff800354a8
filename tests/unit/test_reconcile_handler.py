"""The reconciler Lambda: every reconciler runs, and one failing does not stop the others."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

import handlers.reconcile
from bot.errors import TransientError


@dataclass
class Context:
    function_name: str = "signoff-reconcile"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:signoff-reconcile"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"


class Reconciler:
    def __init__(self, counts: dict[str, int] | None = None, fails: bool = False) -> None:
        self.counts = counts or {}
        self.fails = fails
        self.runs = 0

    def reconcile(self) -> dict[str, int]:
        self.runs += 1
        if self.fails:
            raise TransientError("Slack did not answer")
        return self.counts


def run(monkeypatch: pytest.MonkeyPatch, **reconcilers: Reconciler) -> dict[str, Any]:
    wired = SimpleNamespace(**reconcilers)
    monkeypatch.setattr(handlers.reconcile, "services", lambda: wired)
    return dict(handlers.reconcile.lambda_handler({}, Context()))  # type: ignore[arg-type]


def test_each_reconcilers_counts_are_in_the_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = run(
        monkeypatch,
        approvals=Reconciler({"posted": 1, "synced": 2, "reminded": 0}),
        flows=Reconciler({"checked": 3, "failed": 0}),
        key_requests=Reconciler({"checked": 1, "told": 1, "failed": 0}),
    )
    assert summary == {
        "posted": 1,
        "synced": 2,
        "reminded": 0,
        "flow_checked": 3,
        "flow_failed": 0,
        "key_checked": 1,
        "key_told": 1,
        "key_failed": 0,
        "failed_reconcilers": 0,
    }


def test_a_failing_reconciler_is_logged_and_the_others_still_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    keys = Reconciler({"checked": 1, "told": 1, "failed": 0})
    summary = run(
        monkeypatch,
        approvals=Reconciler(fails=True),
        flows=Reconciler(fails=True),
        key_requests=keys,
    )
    assert keys.runs == 1
    assert summary["key_told"] == 1
    assert summary["failed_reconcilers"] == 2
    assert "reconciler failed" in caplog.text
