"""EventBridge events from SSM Automation, typed (AWS's detail keys are PascalCase)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from bot.validation import as_mapping, convert

STEP_CHANGE = "EC2 Automation Step Status-change Notification"
EXECUTION_CHANGE = "EC2 Automation Execution Status-change Notification"
# An Automation execution id is a UUID (StartAutomationExecution's AutomationExecutionId, 36
# characters). Anything else in an id's place (an event, a notice, a button value) is not one of
# SSM's, so it is ignored with a log line, never passed to SSM or raised.
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_EXECUTION_ID = re.compile(UUID, re.IGNORECASE)
# The detail's keys as AWS sends them, and the attribute names a caller may use instead.
_ALSO = {
    "ExecutionId": "execution_id",
    "Definition": "definition",
    "Status": "status",
    "StepName": "step_name",
    "Action": "action",
    "ExecutedBy": "executed_by",
}


def is_execution_id(value: object) -> bool:
    """Whether `value` has the shape of an SSM Automation execution id."""
    return isinstance(value, str) and _EXECUTION_ID.fullmatch(value) is not None


_ExecutionId = Annotated[
    str,
    msgspec.Meta(
        pattern=f"^(?i:{UUID})$",
        description="the SSM Automation execution id, a UUID",
    ),
]


class AutomationStatusDetail(msgspec.Struct, frozen=True, kw_only=True):
    """The `detail` of both SSM Automation status-change events.

    StartTime/EndTime are locale-style strings ("Nov 29, 2016 7:43:25 PM") and are kept as text.
    """

    execution_id: _ExecutionId = msgspec.field(name="ExecutionId")
    definition: str = msgspec.field(default="", name="Definition")
    status: str = msgspec.field(name="Status")
    step_name: str | None = msgspec.field(default=None, name="StepName")
    action: str | None = msgspec.field(default=None, name="Action")
    executed_by: str | None = msgspec.field(default=None, name="ExecutedBy")


class AutomationStatusEvent(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    detail_type: str = msgspec.field(name="detail-type")
    source: str
    detail: AutomationStatusDetail

    @classmethod
    def from_event(cls, event: object) -> AutomationStatusEvent:
        """The event as EventBridge delivers it; InvalidPayload names every bad key."""
        given = dict(as_mapping(event))
        if "detail-type" not in given and "detail_type" in given:
            given["detail-type"] = given["detail_type"]
        detail = given.get("detail")
        if isinstance(detail, Mapping):
            given["detail"] = _aws_names(detail)
        return convert(given, cls)

    @property
    def is_step_event(self) -> bool:
        return self.detail_type == STEP_CHANGE


def _aws_names(detail: Mapping[str, Any]) -> dict[str, Any]:
    """The detail with AWS's key for each value given under its attribute name instead."""
    named = dict(detail)
    for aws, attribute in _ALSO.items():
        if aws not in named and attribute in named:
            named[aws] = named[attribute]
    return named
