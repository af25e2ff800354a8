"""SSM Automation I/O: read approval state, start runbooks, send signals as an approver."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ParamValidationError

from bot.errors import (
    ApprovalClosed,
    ApprovalNotFound,
    InvalidRequest,
    RoleNotAssumable,
)
from bot.gateways.aws import AWS_FAILURES, error_code, error_message, wrap_aws_error
from bot.models import Approval, Decision, Identity, Outcome, Verdict

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_sts import STSClient

logger = logging.getLogger(__name__)

# The SSM Automation action whose steps wait for Signoff's approvers.
APPROVE_ACTION = "aws:approve"

# How a closed step's status maps to what the approvers see.
_STEP_OUTCOMES = {
    "Cancelled": Outcome.CANCELLED,
    "Cancelling": Outcome.CANCELLED,
    "TimedOut": Outcome.TIMED_OUT,
}


class Automation(Protocol):
    """What the services need of SSM Automation; AutomationGateway is the real one."""

    def get_approval(self, execution_id: str, step_name: str | None = None) -> Approval: ...

    def waiting_execution_ids(self) -> list[str]: ...

    def start(self, document_name: str, parameters: Mapping[str, list[str]]) -> str: ...


class AutomationGateway:
    """Reads SSM Automation executions with the bot's own (read-only) credentials."""

    def __init__(self, ssm: SSMClient, region: str) -> None:
        self._ssm = ssm
        self._region = region

    def get_approval(self, execution_id: str, step_name: str | None = None) -> Approval:
        """The `aws:approve` step of an execution: the named one, else the waiting or latest one."""
        try:
            execution = self._ssm.get_automation_execution(AutomationExecutionId=execution_id)[
                "AutomationExecution"
            ]
            steps = self._approve_steps(execution)
        except ParamValidationError as exc:
            # botocore refuses an id that cannot be one (SSM's are 36 characters) before sending.
            raise ApprovalNotFound(f"No automation execution {execution_id!r}.") from exc
        except AWS_FAILURES as exc:
            code = error_code(exc)
            if code in {"AutomationExecutionNotFoundException", "ValidationException"}:
                raise ApprovalNotFound(
                    f"No automation execution {execution_id} in {self._region}."
                ) from exc
            raise wrap_aws_error(exc, "read the automation execution") from exc
        if not steps:
            raise ApprovalNotFound(f"Automation execution {execution_id} has no aws:approve step.")
        step = _pick_step(steps, step_name)
        return _to_approval(execution, step, self._region)

    def waiting_execution_ids(self) -> list[str]:
        """Ids of every execution SSM reports as Waiting (an approval among them)."""
        ids: list[str] = []
        paginator = self._ssm.get_paginator("describe_automation_executions")
        try:
            pages = paginator.paginate(Filters=[{"Key": "ExecutionStatus", "Values": ["Waiting"]}])
            for page in pages:
                ids.extend(
                    m["AutomationExecutionId"] for m in page["AutomationExecutionMetadataList"]
                )
        except AWS_FAILURES as exc:
            raise wrap_aws_error(exc, "list waiting automation executions") from exc
        return ids

    def start(self, document_name: str, parameters: Mapping[str, list[str]]) -> str:
        """Start a runbook; bad parameters become an InvalidRequest naming SSM's complaint."""
        try:
            response = self._ssm.start_automation_execution(
                DocumentName=document_name, Parameters=dict(parameters)
            )
        except AWS_FAILURES as exc:
            if error_code(exc) in {
                "InvalidAutomationExecutionParametersException",
                "AutomationDefinitionNotFoundException",
                "ValidationException",
            }:
                raise InvalidRequest(
                    f"SSM refused to start {document_name}: {error_message(exc)}"
                ) from exc
            raise wrap_aws_error(exc, f"start {document_name}") from exc
        return response["AutomationExecutionId"]

    def _approve_steps(self, execution: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The execution's aws:approve steps. GetAutomationExecution lists every step unless
        it says the list is truncated; then DescribeAutomationStepExecutions pages them all."""
        listed = execution.get("StepExecutions")
        if listed is not None and not execution.get("StepExecutionsTruncated", False):
            return [step for step in listed if step.get("Action") == APPROVE_ACTION]
        paginator = self._ssm.get_paginator("describe_automation_step_executions")
        pages = paginator.paginate(
            AutomationExecutionId=execution["AutomationExecutionId"],
            Filters=[{"Key": "Action", "Values": [APPROVE_ACTION]}],
        )
        return [step for page in pages for step in page["StepExecutions"]]


SsmFactory = Callable[[Mapping[str, str]], "SSMClient"]


class ApproverSignals:
    """Sends Approve/Reject as the mapped person: assume their role, then signal with its keys.

    The bot's own role never signals. The session name and SourceIdentity are the Slack user id,
    so SSM's ApproverDecisions and CloudTrail name the human who clicked.
    """

    def __init__(self, sts: STSClient, ssm_for: SsmFactory) -> None:
        self._sts = sts
        self._ssm_for = ssm_for

    def send(self, identity: Identity, execution_id: str, verdict: Verdict, comment: str) -> None:
        credentials = self._assume(identity)
        ssm = self._ssm_for(credentials)
        payload = {"Comment": [comment]} if comment else {}
        try:
            ssm.send_automation_signal(
                AutomationExecutionId=execution_id, SignalType=verdict.value, Payload=payload
            )
        except AWS_FAILURES as exc:
            code = error_code(exc)
            if code == "InvalidAutomationSignalException":
                # SSM takes no signal from this principal now: the step closed, or they already
                # decided (the service checks both before this point; SSM has the last word).
                raise ApprovalClosed(
                    f"SSM did not accept the decision: {error_message(exc)}"
                ) from exc
            if code == "AutomationExecutionNotFoundException":
                raise ApprovalNotFound(f"No automation execution {execution_id}.") from exc
            if code in {"AccessDeniedException", "AccessDenied"}:
                raise RoleNotAssumable(
                    f"The role {identity.role_arn} may not send automation signals: give it "
                    "ssm:SendAutomationSignal on this execution (see docs/deploy.md, IAM)."
                ) from exc
            raise wrap_aws_error(exc, "send the automation signal") from exc

    def _assume(self, identity: Identity) -> dict[str, str]:
        if not identity.role_arn:
            raise RoleNotAssumable(
                f"{identity.display_name} is mapped without a role to act through; an admin "
                f"can fix it: signoff users map {identity.slack_user_id} --role <role-arn>"
            )
        try:
            response = self._sts.assume_role(
                RoleArn=identity.role_arn,
                RoleSessionName=identity.slack_user_id,
                SourceIdentity=identity.slack_user_id,
                DurationSeconds=900,
            )
        except AWS_FAILURES as exc:
            if error_code(exc) in {"AccessDenied", "AccessDeniedException"}:
                raise RoleNotAssumable(
                    f"The bot cannot assume {identity.role_arn}: the role's trust policy must "
                    "allow the bot role to call sts:AssumeRole and sts:SetSourceIdentity, and the "
                    "bot role needs sts:AssumeRole on it (see docs/deploy.md, IAM)."
                ) from exc
            raise wrap_aws_error(exc, f"assume {identity.role_arn}") from exc
        creds = response["Credentials"]
        return {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }


def _pick_step(steps: list[Mapping[str, Any]], step_name: str | None) -> Mapping[str, Any]:
    if step_name:
        named = [s for s in steps if s["StepName"] == step_name]
        if named:
            return named[-1]
    waiting = [s for s in steps if s.get("StepStatus") == "Waiting"]
    return waiting[-1] if waiting else steps[-1]


def _to_approval(execution: Mapping[str, Any], step: Mapping[str, Any], region: str) -> Approval:
    inputs = step.get("Inputs", {})
    outputs = step.get("Outputs", {})
    started = step.get("ExecutionStartTime")
    timeout = step.get("TimeoutSeconds")
    parameters = {k: tuple(v) for k, v in execution.get("Parameters", {}).items()}
    return Approval(
        execution_id=execution["AutomationExecutionId"],
        step_name=step["StepName"],
        document_name=execution.get("DocumentName", ""),
        region=region,
        outcome=_outcome(execution, step),
        approvers=tuple(_string_list(inputs.get("Approvers"))),
        min_required=_int(inputs.get("MinRequiredApprovals"), default=1),
        message=_string(inputs.get("Message")),
        description=(parameters.get("Description") or ("",))[0],
        notification_arn=_string(inputs.get("NotificationArn")) or None,
        executed_by=execution.get("ExecutedBy"),
        started_at=started,
        timeout_at=started + timedelta(seconds=int(timeout)) if started and timeout else None,
        decisions=tuple(_decisions(_entries(outputs))),
        parameters=parameters,
    )


def _outcome(execution: Mapping[str, Any], step: Mapping[str, Any]) -> Outcome:
    status = step.get("StepStatus", "")
    if status in {"Pending", "InProgress", "Waiting"}:
        # An execution cancelled or timed out while the step waited may not have closed the step.
        exec_status = execution.get("AutomationExecutionStatus", "")
        return _STEP_OUTCOMES.get(exec_status, Outcome.WAITING)
    if status in _STEP_OUTCOMES:
        return _STEP_OUTCOMES[status]
    outputs = step.get("Outputs", {})
    verdict = _verdict((outputs.get("ApprovalStatus") or [""])[0])
    if verdict is None and status == "Failed":
        # No verdict output (AWS documents it, never its spelling): a failed step with a Reject
        # among its decisions was rejected.
        rejected = any(d.verdict is Verdict.REJECT for d in _decisions(_entries(outputs)))
        verdict = Verdict.REJECT if rejected else None
    if verdict is Verdict.APPROVE:
        return Outcome.APPROVED
    if verdict is Verdict.REJECT:
        return Outcome.REJECTED
    return Outcome.APPROVED if status == "Success" else Outcome.FAILED


def _entries(outputs: Mapping[str, Any]) -> list[Any]:
    return list(outputs.get("ApproverDecisions") or [])


def _decisions(raw: list[Any]) -> Iterator[Decision]:
    """Each ApproverDecisions entry as a Decision (docs/sandbox.md, "Semantics AWS does not
    document").

    AWS documents the output only as "a JSON map". A real account returns each element as a JSON
    string `{"Approver", "Decision", "ApprovalDecisionTime", "Comment"}` (AWS re:Post, quoted in
    tests/fixtures/upstream/); older simulators spell the verdict `ApprovalStatus`. An entry may
    also arrive as an object, or the whole list as one JSON string. A missing key other than the
    verdict costs only that field; an entry with no verdict at all is left out, loudly, because
    counting it either way would be a guess (and a guessed approval could issue a key).
    """
    for item in raw:
        data: Any = item
        if isinstance(item, str):
            try:
                data = json.loads(item)
            except ValueError:
                data = None
        if isinstance(data, list):
            yield from _decisions(data)
            continue
        if not isinstance(data, Mapping):
            logger.warning("unreadable ApproverDecisions entry", extra={"entry": str(item)[:200]})
            continue
        verdict = _verdict(data.get("Decision")) or _verdict(data.get("ApprovalStatus"))
        if verdict is None:
            logger.warning(
                "ApproverDecisions entry without a verdict; not counted",
                extra={"entry": str(item)[:200]},
            )
            continue
        yield Decision(
            principal=str(data.get("Approver") or ""),
            verdict=verdict,
            at=_parse_time(data.get("ApprovalDecisionTime")),
            comment=str(data.get("Comment") or ""),
        )


# The verdict as SignalType spells it, as the step's status spells it, in any case.
_VERDICTS = {
    "approve": Verdict.APPROVE,
    "approved": Verdict.APPROVE,
    "reject": Verdict.REJECT,
    "rejected": Verdict.REJECT,
}


def _verdict(raw: object) -> Verdict | None:
    return _VERDICTS.get(raw.strip().lower()) if isinstance(raw, str) else None


def _parse_time(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def _string_list(raw: str | None) -> list[str]:
    # Step Inputs are strings; lists arrive JSON-encoded, or as a bare single value.
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return [raw]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _string(raw: str | None) -> str:
    if raw is None:
        return ""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, str) else raw


def _int(raw: str | None, default: int) -> int:
    try:
        return int(json.loads(raw)) if raw else default
    except (ValueError, TypeError):
        return default
