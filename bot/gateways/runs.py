"""SSM Automation reads about whole runs: which are still going, how one ended, its step outputs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from bot.errors import ApprovalNotFound
from bot.gateways.aws import AWS_FAILURES, error_code, wrap_aws_error

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

ACTIVE_STATUSES = ("Pending", "InProgress", "Waiting")
FINISHED_STATUSES = frozenset(
    {
        "Success",
        "Failed",
        "TimedOut",
        "Cancelled",
        "Rejected",
        "CompletedWithSuccess",
        "CompletedWithFailure",
        "Exited",
    }
)
_PAGE_SIZE = 50  # DescribeAutomationExecutions' largest MaxResults


class StepSummary(msgspec.Struct, frozen=True):
    name: str
    action: str
    status: str
    outputs: Mapping[str, tuple[str, ...]] = msgspec.field(default_factory=dict)


class RunSummary(msgspec.Struct, frozen=True):
    """What SSM says about one automation execution, as plain values."""

    execution_id: str
    document_name: str
    status: str
    parameters: Mapping[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    failure_message: str = ""
    steps: tuple[StepSummary, ...] = ()

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def parameter(self, name: str) -> str | None:
        values = self.parameters.get(name)
        return values[0] if values else None

    def step_with_action(self, action: str) -> StepSummary | None:
        """The last step of this action type that ran (retries and loops run steps again)."""
        return next((s for s in reversed(self.steps) if s.action == action), None)


class RunEnd(msgspec.Struct, frozen=True):
    """One finished execution as SSM's list shows it: its id and when it ended."""

    execution_id: str
    ended_at: datetime | None


class FinishedRuns(msgspec.Struct, frozen=True):
    """Finished executions, newest first; `truncated` when the page limit left some unread."""

    runs: tuple[RunEnd, ...]
    truncated: bool


class Runs(Protocol):
    """What the key-request service needs to read of past runs; RunReader is the real one."""

    def summary(self, execution_id: str) -> RunSummary: ...

    def active(self, document_name: str) -> list[RunSummary]: ...

    def finished(
        self, document_name: str, *, started_after: datetime, max_pages: int
    ) -> FinishedRuns: ...


class RunReader:
    """Reads executions with the bot's own (read-only) credentials."""

    def __init__(self, ssm: SSMClient) -> None:
        self._ssm = ssm

    def summary(self, execution_id: str) -> RunSummary:
        try:
            execution = self._ssm.get_automation_execution(AutomationExecutionId=execution_id)[
                "AutomationExecution"
            ]
        except AWS_FAILURES as exc:
            if error_code(exc) in {"AutomationExecutionNotFoundException", "ValidationException"}:
                raise ApprovalNotFound(f"No automation execution {execution_id}.") from exc
            raise wrap_aws_error(exc, "read the automation execution") from exc
        return _summary(execution)

    def active(self, document_name: str) -> list[RunSummary]:
        """Every execution of `document_name` that has not finished yet, with its parameters."""
        ids: list[str] = []
        try:
            pages = self._ssm.get_paginator("describe_automation_executions").paginate(
                Filters=[
                    {"Key": "DocumentNamePrefix", "Values": [document_name]},
                    {"Key": "ExecutionStatus", "Values": list(ACTIVE_STATUSES)},
                ]
            )
            for page in pages:
                ids.extend(
                    m["AutomationExecutionId"]
                    for m in page["AutomationExecutionMetadataList"]
                    # A prefix filter also matches longer names.
                    if m.get("DocumentName") == document_name
                )
        except AWS_FAILURES as exc:
            raise wrap_aws_error(exc, f"list running executions of {document_name}") from exc
        # The list carries no parameters; each run is read once more to get them.
        runs = (self._summary_if_present(i) for i in ids)
        return [run for run in runs if run is not None and not run.is_finished]

    def finished(
        self, document_name: str, *, started_after: datetime, max_pages: int
    ) -> FinishedRuns:
        """Executions of `document_name` started after `started_after` that have finished.

        Reads at most `max_pages` pages of SSM's list, so a large history cannot use up the
        caller's time; the list carries the end time but no parameters or outputs.
        """
        runs: list[RunEnd] = []
        request: dict[str, Any] = {
            "Filters": [
                {"Key": "DocumentNamePrefix", "Values": [document_name]},
                {"Key": "ExecutionStatus", "Values": sorted(FINISHED_STATUSES)},
                {"Key": "StartTimeAfter", "Values": [_iso(started_after)]},
            ],
            "MaxResults": _PAGE_SIZE,
        }
        for _ in range(max_pages):
            try:
                page = self._ssm.describe_automation_executions(**request)
            except AWS_FAILURES as exc:
                raise wrap_aws_error(exc, f"list finished executions of {document_name}") from exc
            runs.extend(
                RunEnd(m["AutomationExecutionId"], m.get("ExecutionEndTime"))
                for m in page["AutomationExecutionMetadataList"]
                # A prefix filter also matches longer names.
                if m.get("DocumentName") == document_name
            )
            token = page.get("NextToken")
            if not token:
                return FinishedRuns(tuple(runs), truncated=False)
            request["NextToken"] = token
        return FinishedRuns(tuple(runs), truncated=True)

    def _summary_if_present(self, execution_id: str) -> RunSummary | None:
        try:
            return self.summary(execution_id)
        except ApprovalNotFound:
            return None


def _iso(moment: datetime) -> str:
    # The StartTime filters take an ISO-8601 UTC time, e.g. 2026-11-23T10:15:00Z.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(execution: Mapping[str, Any]) -> RunSummary:
    return RunSummary(
        execution_id=execution["AutomationExecutionId"],
        document_name=execution.get("DocumentName", ""),
        status=execution.get("AutomationExecutionStatus", ""),
        parameters={k: tuple(v) for k, v in execution.get("Parameters", {}).items()},
        failure_message=execution.get("FailureMessage", ""),
        steps=tuple(
            StepSummary(
                name=step.get("StepName", ""),
                action=step.get("Action", ""),
                status=step.get("StepStatus", ""),
                outputs={k: tuple(v) for k, v in step.get("Outputs", {}).items()},
            )
            for step in execution.get("StepExecutions", [])
        ),
    )
