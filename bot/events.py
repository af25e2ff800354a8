"""EventBridge events from SSM Automation, typed (AWS's detail keys are PascalCase)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

STEP_CHANGE = "EC2 Automation Step Status-change Notification"
EXECUTION_CHANGE = "EC2 Automation Execution Status-change Notification"


class AutomationStatusDetail(BaseModel):
    """The `detail` of both SSM Automation status-change events.

    StartTime/EndTime are locale-style strings ("Nov 29, 2016 7:43:25 PM") and are kept as text.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    execution_id: str = Field(alias="ExecutionId")
    definition: str = Field(default="", alias="Definition")
    status: str = Field(alias="Status")
    step_name: str | None = Field(default=None, alias="StepName")
    action: str | None = Field(default=None, alias="Action")
    executed_by: str | None = Field(default=None, alias="ExecutedBy")


class AutomationStatusEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str
    detail_type: str = Field(alias="detail-type")
    source: str
    detail: AutomationStatusDetail

    @property
    def is_step_event(self) -> bool:
        return self.detail_type == STEP_CHANGE
