"""Reading Step Functions executions in tests: how one ended, which states it went through."""

from __future__ import annotations

from typing import Any


def stopped(sfn: Any, execution_arn: str) -> dict[str, Any] | None:
    """The execution as DescribeExecution reports it once it has stopped; None while running."""
    described = sfn.describe_execution(executionArn=execution_arn)
    return None if described["status"] == "RUNNING" else dict(described)


def entered_states(sfn: Any, execution_arn: str) -> list[str]:
    """The names of the states the execution entered, in order."""
    history = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in history["events"]
        if "stateEnteredEventDetails" in e
    ]
