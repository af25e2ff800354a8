"""Step Functions I/O: complete callback tasks, read executions; failed calls → domain errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
from botocore.exceptions import ClientError

from bot.errors import ServiceError, SignoffError, TransientError
from bot.gateways.aws import (
    AWS_FAILURES,
    TRANSIENT_CODES,
    AwsFailure,
    error_code,
    wrap_aws_error,
)

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# What SendTask* answers when nobody waits for the token any more (platform-facts B.1):
# TaskTimedOut also means "the task associated with the token has already been closed".
_CLOSED_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
_ERROR_MAX = 256  # SendTaskFailure `error`
_CAUSE_MAX = 32768  # SendTaskFailure `cause`


class TaskClosed(SignoffError):
    """Step Functions no longer waits for this task token (already decided, timed out, stopped)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"Step Functions no longer waits for this task ({code}).")
        self.code = code


class FlowExecution(msgspec.Struct, frozen=True):
    """What DescribeExecution says about a (parent) state machine execution."""

    arn: str
    name: str
    state_machine_arn: str
    status: str
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    error: str | None = None
    cause: str | None = None


class StepFunctions(Protocol):
    """What the flow services need of Step Functions; StepFunctionsGateway is the real one."""

    def send_task_success(self, token: str, output: Mapping[str, Any]) -> None: ...

    def send_task_failure(self, token: str, error: str, cause: str) -> None: ...

    def describe_execution(self, execution_arn: str) -> FlowExecution | None: ...


class StepFunctionsGateway:
    """SendTaskSuccess / SendTaskFailure / DescribeExecution with the bot's own credentials.

    The task token is a bearer credential for the waiting task: it goes to AWS and nowhere else.
    AWS error messages for these calls may quote what they were sent, so errors raised here carry
    the error code only and do not chain the ClientError.
    """

    def __init__(self, sfn: SFNClient) -> None:
        self._sfn = sfn

    def send_task_success(self, token: str, output: Mapping[str, Any]) -> None:
        """Complete the task with `output` as its JSON result; TaskClosed if nobody waits."""
        body = json.dumps(output, separators=(",", ":"), default=str)
        try:
            self._sfn.send_task_success(taskToken=token, output=body)
        except AWS_FAILURES as exc:
            raise _token_error(exc, "send a task success to Step Functions") from None

    def send_task_failure(self, token: str, error: str, cause: str) -> None:
        """Fail the task with a named error and a cause a person can read; TaskClosed if closed."""
        try:
            self._sfn.send_task_failure(
                taskToken=token, error=error[:_ERROR_MAX], cause=cause[:_CAUSE_MAX]
            )
        except AWS_FAILURES as exc:
            raise _token_error(exc, "send a task failure to Step Functions") from None

    def describe_execution(self, execution_arn: str) -> FlowExecution | None:
        """The execution's status and timing; None when Step Functions has no such execution."""
        try:
            response = self._sfn.describe_execution(executionArn=execution_arn)
        except AWS_FAILURES as exc:
            if error_code(exc) in {"ExecutionDoesNotExist", "InvalidArn"}:
                return None
            raise wrap_aws_error(exc, "describe a Step Functions execution") from exc
        return FlowExecution(
            arn=response["executionArn"],
            name=response.get("name", ""),
            state_machine_arn=response.get("stateMachineArn", ""),
            status=str(response["status"]),
            started_at=response.get("startDate"),
            stopped_at=response.get("stopDate"),
            error=response.get("error"),
            cause=response.get("cause"),
        )


def _token_error(exc: AwsFailure, doing: str) -> SignoffError:
    if not isinstance(exc, ClientError):
        # No answer, or botocore refused first (its validation text would quote the token).
        return wrap_aws_error(exc, doing)
    code = error_code(exc)
    if code in _CLOSED_CODES:
        return TaskClosed(code)
    if code in TRANSIENT_CODES:
        return TransientError(f"AWS was busy while trying to {doing} ({code}); try again.")
    request_id = exc.response.get("ResponseMetadata", {}).get("RequestId", "unknown")
    return ServiceError(f"AWS refused to {doing}: {code} (request id {request_id})")
