"""The SSM Automation operations moto 5.2.5 lacks, as methods of its SSM response class.

Each method parses the JSON request, asks the engine, and returns an `ActionResult` that moto
serializes with botocore's ssm model, so datetimes and shapes come out as AWS sends them. The
reads a click makes (`GetAutomationExecution`, and the describes) return a `JsonResult`
instead: the engine's rows are already in the model's shape, and walking the model for each
response was a quarter of the local AWS's CPU time for a GetAutomationExecution.
`tests/integration/test_ssm_engine.py` holds both ways to the same output.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.core.responses import ActionContext, ActionResult
from moto.ssm.responses import SimpleSystemManagerResponse

from sandbox.aws.engine import StartRequest, engine
from sandbox.aws.errors import (
    InvalidFilterKey,
    InvalidFilterValue,
    InvalidNextToken,
    ValidationError,
)
from sandbox.aws.principals import caller_arn

Row = dict[str, Any]
Predicate = Callable[[Row], bool]

EXECUTION_FILTER_KEYS = frozenset(
    {
        "DocumentNamePrefix",
        "ExecutionStatus",
        "ExecutionId",
        "ParentExecutionId",
        "CurrentAction",
        "StartTimeBefore",
        "StartTimeAfter",
        "AutomationType",
        "TagKey",
        "TargetResourceGroup",
        "AutomationSubtype",
        "OpsItemId",
    }
)
STEP_FILTER_KEYS = frozenset(
    {
        "StartTimeBefore",
        "StartTimeAfter",
        "StepExecutionStatus",
        "StepExecutionId",
        "StepName",
        "Action",
        "ParentStepExecutionId",
        "ParentStepIteration",
        "ParentStepIteratorValue",
    }
)


JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


class JsonResult(ActionResult):
    """A result already in the operation's output shape, written as AWS's JSON protocol does.

    What moto's model-driven serializer makes of the same rows: members that are None are left
    out, datetimes are epoch seconds truncated to the millisecond.
    """

    def execute_result(self, context: ActionContext) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": JSON_CONTENT_TYPE}, json_text(self.result)


def json_text(result: Any) -> str:
    """`result` as the body of a JSON-protocol response."""
    return json.dumps(aws_json(result), separators=(",", ":"))


def aws_json(value: Any) -> Any:
    """`value` with None members dropped and datetimes as epoch seconds (millisecond precision)."""
    if isinstance(value, dict):
        return {k: aws_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [aws_json(v) for v in value]
    if isinstance(value, datetime):
        seconds = calendar.timegm(value.utctimetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
    return value


def _body(response: SimpleSystemManagerResponse) -> dict[str, Any]:
    try:
        body = json.loads(response.body or "{}")
    except ValueError:
        raise ValidationError("The request body is not valid JSON.") from None
    return body if isinstance(body, dict) else {}


def requested_execution_id(body: dict[str, Any]) -> str:
    value = body.get("AutomationExecutionId")
    if not isinstance(value, str) or len(value) != 36:
        raise ValidationError(
            "1 validation error detected: Value at 'automationExecutionId' failed to satisfy "
            "constraint: Member must have length equal to 36"
        )
    return value


def _caller(response: SimpleSystemManagerResponse) -> str:
    return caller_arn(response.current_account, response.region, response.get_access_key())


def start_automation_execution(self: SimpleSystemManagerResponse) -> ActionResult:
    body = _body(self)
    if body.get("Targets") or body.get("TargetMaps") or body.get("TargetLocations"):
        raise ValidationError(
            "The sandbox engine does not run rate-controlled or multi-account automations."
        )
    name = body.get("DocumentName")
    if not isinstance(name, str) or not name:
        raise ValidationError("DocumentName is required.")
    request = StartRequest(
        account_id=self.current_account,
        region=self.region,
        access_key_id=self.get_access_key(),
        executed_by=_caller(self),
        document_name=name,
        document_version=body.get("DocumentVersion"),
        parameters=body.get("Parameters"),
        mode=body.get("Mode") or "Auto",
        client_token=body.get("ClientToken"),
    )
    return ActionResult({"AutomationExecutionId": engine.start(self.ssm_backend, request)})


def get_automation_execution(self: SimpleSystemManagerResponse) -> ActionResult:
    execution_id = requested_execution_id(_body(self))
    return JsonResult({"AutomationExecution": engine.get(self.ssm_backend, execution_id)})


def describe_automation_executions(self: SimpleSystemManagerResponse) -> ActionResult:
    body = _body(self)
    predicates = [_execution_filter(f) for f in body.get("Filters") or []]
    rows = [r for r in engine.list_metadata(self.ssm_backend) if all(p(r) for p in predicates)]
    rows.sort(key=lambda row: row["ExecutionStartTime"], reverse=True)  # newest first
    page, token = _page(rows, body)
    result: dict[str, Any] = {"AutomationExecutionMetadataList": page}
    if token:
        result["NextToken"] = token
    return JsonResult(result)


def describe_automation_step_executions(self: SimpleSystemManagerResponse) -> ActionResult:
    body = _body(self)
    execution_id = requested_execution_id(body)
    predicates = [_step_filter(f) for f in body.get("Filters") or []]
    rows = [
        r
        for r in engine.list_steps(self.ssm_backend, execution_id)
        if all(p(r) for p in predicates)
    ]
    if body.get("ReverseOrder"):
        rows.reverse()
    page, token = _page(rows, body)
    result: dict[str, Any] = {"StepExecutions": page}
    if token:
        result["NextToken"] = token
    return JsonResult(result)


def send_automation_signal(self: SimpleSystemManagerResponse) -> ActionResult:
    body = _body(self)
    execution_id = requested_execution_id(body)
    engine.signal(
        self.ssm_backend,
        execution_id,
        str(body.get("SignalType")),
        body.get("Payload"),
        _caller(self),
    )
    return ActionResult({})


def stop_automation_execution(self: SimpleSystemManagerResponse) -> ActionResult:
    body = _body(self)
    engine.stop(self.ssm_backend, requested_execution_id(body), body.get("Type") or "Cancel")
    return ActionResult({})


OPERATIONS: dict[str, Callable[[SimpleSystemManagerResponse], ActionResult]] = {
    "start_automation_execution": start_automation_execution,
    "get_automation_execution": get_automation_execution,
    "describe_automation_executions": describe_automation_executions,
    "describe_automation_step_executions": describe_automation_step_executions,
    "send_automation_signal": send_automation_signal,
    "stop_automation_execution": stop_automation_execution,
}


# --- filters and pages -----------------------------------------------------------------------


def _filter_parts(entry: Any, allowed: frozenset[str]) -> tuple[str, list[str]]:
    key = entry.get("Key") if isinstance(entry, dict) else None
    if key not in allowed:
        raise InvalidFilterKey(f"The filter key {key} is not valid.")
    values = entry.get("Values")
    if not isinstance(values, list) or not values:
        raise InvalidFilterValue(f"The filter {key} needs at least one value.")
    return str(key), [str(v) for v in values]


def _moment(key: str, value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidFilterValue(f"{key} takes an ISO-8601 time, got {value!r}.") from None


def _field_in(field: str, values: list[str], fold: bool = False) -> Predicate:
    wanted = {v.lower() for v in values} if fold else set(values)

    def predicate(row: Row) -> bool:
        value = row.get(field)
        if value is None:
            return False
        return (str(value).lower() if fold else str(value)) in wanted

    return predicate


def _time_filter(field: str, key: str, values: list[str]) -> Predicate:
    moment = _moment(key, values[0])
    before = key.endswith("Before")

    def predicate(row: Row) -> bool:
        start = row.get(field)
        if start is None:
            return False
        aware = moment if moment.tzinfo else moment.replace(tzinfo=start.tzinfo)
        return bool(start < aware if before else start > aware)

    return predicate


def _execution_filter(entry: Any) -> Predicate:
    key, values = _filter_parts(entry, EXECUTION_FILTER_KEYS)
    if key == "DocumentNamePrefix":
        return lambda row: any(row["DocumentName"].startswith(v) for v in values)
    if key == "ExecutionStatus":
        return _field_in("AutomationExecutionStatus", values, fold=True)
    if key in ("StartTimeBefore", "StartTimeAfter"):
        return _time_filter("ExecutionStartTime", key, values)
    fields = {
        "ExecutionId": "AutomationExecutionId",
        "ParentExecutionId": "ParentAutomationExecutionId",
        "CurrentAction": "CurrentAction",
        "AutomationType": "AutomationType",
        "AutomationSubtype": "AutomationSubtype",
        "OpsItemId": "OpsItemId",
        # The engine keeps no tags or resource-group targets, so these match nothing.
        "TagKey": "Tags",
        "TargetResourceGroup": "Targets",
    }
    return _field_in(fields[key], values)


def _step_filter(entry: Any) -> Predicate:
    key, values = _filter_parts(entry, STEP_FILTER_KEYS)
    if key in ("StartTimeBefore", "StartTimeAfter"):
        return _time_filter("ExecutionStartTime", key, values)
    if key == "StepExecutionStatus":
        return _field_in("StepStatus", values, fold=True)
    # Steps have no parents: there are no aws:loop iterations in this engine.
    fields = {
        "StepExecutionId": "StepExecutionId",
        "StepName": "StepName",
        "Action": "Action",
        "ParentStepExecutionId": "ParentStepDetails",
        "ParentStepIteration": "ParentStepDetails",
        "ParentStepIteratorValue": "ParentStepDetails",
    }
    return _field_in(fields[key], values)


def _page(rows: list[Row], body: dict[str, Any]) -> tuple[list[Row], str | None]:
    size = body.get("MaxResults", 50)
    if not isinstance(size, int) or not 1 <= size <= 50:
        raise ValidationError("MaxResults must be between 1 and 50.")
    token = body.get("NextToken") or "0"
    if not str(token).isdigit() or int(token) > len(rows):
        raise InvalidNextToken("The specified token is not valid.")
    start = int(token)
    end = start + size
    return rows[start:end], (str(end) if end < len(rows) else None)
