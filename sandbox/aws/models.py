"""Automation executions and step executions as the engine keeps them, and their API shapes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.aws.documents import BoundParameters, Runbook, StepSpec, to_text

TERMINAL = frozenset({"Success", "Failed", "Cancelled", "TimedOut"})
# aws:approve waits this long when the step sets no timeoutSeconds (SSM user guide).
APPROVE_DEFAULT_TIMEOUT = 604800


@dataclass(frozen=True)
class Decision:
    """One approver's answer; `approver` is the caller's ARN, the unit of "distinct principal"."""

    approver: str
    status: str  # "Approve" | "Reject", the SignalType
    time: datetime
    comment: str

    def to_output(self) -> str:
        # ApproverDecisions is a MapList output, so each element travels as a JSON string, in the
        # shape a real account returns (tests/fixtures/upstream/, the re:Post element):
        # the verdict under `Decision`, the time in microseconds with a `Z`.
        return json.dumps(
            {
                "Approver": self.approver,
                "Decision": self.status,
                "ApprovalDecisionTime": self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "Comment": self.comment,
            }
        )


@dataclass
class StepExecution:
    spec: StepSpec
    step_execution_id: str
    status: str = "Pending"
    start_time: datetime | None = None
    end_time: datetime | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, list[str]] = field(default_factory=dict)
    # Typed outputs, for `{{ Step.Output }}` references in later steps.
    values: dict[str, Any] = field(default_factory=dict)
    failure_message: str | None = None
    attempts: int = 0
    decisions: list[Decision] = field(default_factory=list)
    deadline: datetime | None = None
    wake_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def action(self) -> str:
        return self.spec.action

    @property
    def timeout_seconds(self) -> int | None:
        if self.spec.timeout_seconds is not None:
            return self.spec.timeout_seconds
        return APPROVE_DEFAULT_TIMEOUT if self.action == "aws:approve" else None

    def describe(self) -> dict[str, Any]:
        """botocore `StepExecution`: Inputs are {str: str}, lists JSON-encoded."""
        spec = self.spec
        shape: dict[str, Any] = {
            "StepName": spec.name,
            "Action": spec.action,
            "OnFailure": spec.on_failure,
            "MaxAttempts": spec.max_attempts,
            "StepStatus": self.status,
            "Inputs": {key: to_text(value) for key, value in self.inputs.items()},
            "StepExecutionId": self.step_execution_id,
            "IsEnd": spec.is_end,
            "IsCritical": spec.is_critical,
        }
        optional = {
            "TimeoutSeconds": self.timeout_seconds,
            "ExecutionStartTime": self.start_time,
            "ExecutionEndTime": self.end_time,
            "Outputs": self.outputs or None,
            "FailureMessage": self.failure_message,
            "NextStep": spec.next_step,
        }
        shape.update({key: value for key, value in optional.items() if value is not None})
        return shape


@dataclass
class AutomationExecution:
    execution_id: str
    account_id: str
    region: str
    partition: str
    runbook: Runbook
    parameters: BoundParameters
    executed_by: str
    access_key_id: str
    start_time: datetime
    mode: str = "Auto"
    client_token: str | None = None
    status: str = "Pending"
    end_time: datetime | None = None
    steps: list[StepExecution] = field(default_factory=list)
    current: StepExecution | None = None
    next_step: str | None = None
    failure_message: str | None = None
    critical_failure: bool = False
    cancel_requested: bool = False
    # put_events entries queued under the engine lock, sent by the worker outside it.
    outbox: list[dict[str, Any]] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return (
            f"arn:{self.partition}:ssm:{self.region}:{self.account_id}"
            f":automation-execution/{self.execution_id}"
        )

    @property
    def definition_arn(self) -> str:
        return (
            f"arn:{self.partition}:ssm:{self.region}:{self.account_id}"
            f":automation-definition/{self.runbook.name}:{self.runbook.version}"
        )

    @property
    def last_step(self) -> StepExecution | None:
        return self.steps[-1] if self.steps else None

    def variables(self) -> dict[str, Any]:
        """Everything a `{{ }}` reference may name at this point of the run."""
        names: dict[str, Any] = dict(self.parameters.values)
        for step in self.steps:
            for key, value in step.values.items():
                names[f"{step.name}.{key}"] = value
        names.update(
            {
                "automation:EXECUTION_ID": self.execution_id,
                "global:REGION": self.region,
                "global:ACCOUNT_ID": self.account_id,
                "global:AWS_PARTITION": self.partition,
            }
        )
        return names

    def outputs(self) -> dict[str, list[str]]:
        """The runbook's declared `outputs:` (`Step.Output`) that have values."""
        found: dict[str, list[str]] = {}
        for reference in self.runbook.outputs:
            step_name, _, key = reference.partition(".")
            for step in self.steps:
                if step.name == step_name and key in step.outputs:
                    found[reference] = step.outputs[key]
        return found

    def metadata(self) -> dict[str, Any]:
        """botocore `AutomationExecutionMetadata` (DescribeAutomationExecutions)."""
        last = self.last_step
        shape: dict[str, Any] = {
            "AutomationExecutionId": self.execution_id,
            "DocumentName": self.runbook.name,
            "DocumentVersion": self.runbook.version,
            "AutomationExecutionStatus": self.status,
            "ExecutionStartTime": self.start_time,
            "ExecutedBy": self.executed_by,
            "Mode": self.mode,
            "AutomationType": "Local",
        }
        optional = {
            "ExecutionEndTime": self.end_time,
            "Outputs": self.outputs() or None,
            "CurrentStepName": last.name if last else None,
            "CurrentAction": last.action if last else None,
            "FailureMessage": self.failure_message,
        }
        shape.update({key: value for key, value in optional.items() if value is not None})
        return shape

    def describe(self) -> dict[str, Any]:
        """botocore `AutomationExecution` (GetAutomationExecution)."""
        shape = self.metadata()
        del shape["AutomationType"]
        shape["Parameters"] = {key: list(values) for key, values in self.parameters.wire.items()}
        if not shape["Parameters"]:
            del shape["Parameters"]
        shape["StepExecutions"] = [step.describe() for step in self.steps]
        shape["StepExecutionsTruncated"] = False
        shape["ProgressCounters"] = {
            "TotalSteps": len(self.steps),
            "SuccessSteps": self._count("Success"),
            "FailedSteps": self._count("Failed"),
            "CancelledSteps": self._count("Cancelled"),
            "TimedOutSteps": self._count("TimedOut"),
        }
        return shape

    def _count(self, status: str) -> int:
        return sum(1 for step in self.steps if step.status == status)
