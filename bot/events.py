"""EventBridge events from SSM Automation, typed (AWS's detail keys are PascalCase)."""

from __future__ import annotations

import re

import msgspec

from bot.payload import Fields

STEP_CHANGE = "EC2 Automation Step Status-change Notification"
EXECUTION_CHANGE = "EC2 Automation Execution Status-change Notification"
# An Automation execution id is a UUID (StartAutomationExecution's AutomationExecutionId, 36
# characters). Anything else in an id's place (an event, a notice, a button value) is not one of
# SSM's, so it is ignored with a log line, never passed to SSM or raised.
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_EXECUTION_ID = re.compile(UUID, re.IGNORECASE)


def is_execution_id(value: object) -> bool:
    """Whether `value` has the shape of an SSM Automation execution id."""
    return isinstance(value, str) and _EXECUTION_ID.fullmatch(value) is not None


def _execution_id(value: str) -> None:
    if not is_execution_id(value):
        raise ValueError("is not an SSM Automation execution id")


class AutomationStatusDetail(msgspec.Struct, frozen=True, kw_only=True):
    """The `detail` of both SSM Automation status-change events.

    StartTime/EndTime are locale-style strings ("Nov 29, 2016 7:43:25 PM") and are kept as text.
    """

    execution_id: str
    definition: str = ""
    status: str
    step_name: str | None = None
    action: str | None = None
    executed_by: str | None = None

    @classmethod
    def read(cls, fields: Fields) -> AutomationStatusDetail:
        """From AWS's keys (ExecutionId, …), or these attributes' own names; others ignored."""
        return cls(
            execution_id=fields.text("ExecutionId", also="execution_id", rule=_execution_id),
            definition=fields.text("Definition", "", also="definition"),
            status=fields.text("Status", also="status"),
            step_name=fields.optional_text("StepName", also="step_name"),
            action=fields.optional_text("Action", also="action"),
            executed_by=fields.optional_text("ExecutedBy", also="executed_by"),
        )


class AutomationStatusEvent(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    detail_type: str
    source: str
    detail: AutomationStatusDetail

    @classmethod
    def from_event(cls, event: object) -> AutomationStatusEvent:
        """The event as EventBridge delivers it; InvalidPayload names every bad key."""
        fields = Fields(event)
        status = cls(
            id=fields.text("id"),
            detail_type=fields.text("detail-type", also="detail_type"),
            source=fields.text("source"),
            detail=AutomationStatusDetail.read(fields.within("detail")),
        )
        fields.check()
        return status

    @property
    def is_step_event(self) -> bool:
        return self.detail_type == STEP_CHANGE
