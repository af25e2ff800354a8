"""How the local Lambda logs an asynchronous invocation that failed: a retry that follows is one
line (the error's type and message), the last failure keeps the whole error with its trace."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import boto3
import pytest

import sandbox.aws.lambdas
from bot.errors import TransientError

REGION = "us-east-1"


def test_a_benign_retry_is_one_warning_line_without_a_stack_trace(
    deploy_lambda: Callable[..., str],
    engine_settle: Callable[[], None],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox.aws.lambdas, "ASYNC_RETRY_DELAYS", (0.01, 0.01))
    calls: list[Any] = []

    def busy_once(event: Any, context: Any) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise TransientError("Another invocation is posting this flow's root message.")

    deploy_lambda("busy-once", busy_once)
    caplog.set_level(logging.WARNING, logger=sandbox.aws.lambdas.log.name)

    boto3.client("lambda", region_name=REGION).invoke(
        FunctionName="busy-once", InvocationType="Event", Payload=json.dumps({"n": 1})
    )
    engine_settle()

    assert len(calls) == 2
    [retry] = [r for r in caplog.records if "async invocation of busy-once" in r.getMessage()]
    assert retry.levelno == logging.WARNING
    assert retry.getMessage() == (
        "async invocation of busy-once failed (attempt 1 of 3), tried again in 0.01 s: "
        "TransientError: Another invocation is posting this flow's root message."
    )


def test_the_last_failed_attempt_keeps_the_whole_error(
    deploy_lambda: Callable[..., str],
    engine_settle: Callable[[], None],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox.aws.lambdas, "ASYNC_RETRY_DELAYS", (0.01, 0.01))

    def broken(event: Any, context: Any) -> None:
        raise ValueError("a bug")

    deploy_lambda("broken", broken)
    caplog.set_level(logging.WARNING, logger=sandbox.aws.lambdas.log.name)

    boto3.client("lambda", region_name=REGION).invoke(
        FunctionName="broken", InvocationType="Event", Payload=json.dumps({})
    )
    engine_settle()

    lines = [r for r in caplog.records if "async invocation of broken" in r.getMessage()]
    assert len(lines) == 3
    assert all("stackTrace" not in r.getMessage() for r in lines[:2])
    assert lines[-1].levelno == logging.ERROR
    assert "attempt 3 of 3" in lines[-1].getMessage()
    assert "stackTrace" in lines[-1].getMessage()
