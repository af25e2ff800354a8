"""What SSM Automation tells the outside world: EventBridge status events and the SNS notice."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from moto.events.models import events_backends
from moto.sns.models import sns_backends

from sandbox.aws.models import AutomationExecution, StepExecution

log = logging.getLogger(__name__)

SOURCE = "aws.ssm"
STEP_DETAIL_TYPE = "EC2 Automation Step Status-change Notification"
EXECUTION_DETAIL_TYPE = "EC2 Automation Execution Status-change Notification"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def locale_time(moment: datetime) -> str:
    """SSM's event timestamps: "Nov 29, 2016 7:43:25 PM" (UTC), not ISO-8601."""
    hour = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    return (
        f"{_MONTHS[moment.month - 1]} {moment.day}, {moment.year} {hour}:{moment:%M:%S} {meridiem}"
    )


def _timing(start: datetime | None, end: datetime | None, now: datetime) -> dict[str, Any]:
    start = start or now
    timing: dict[str, Any] = {"StartTime": locale_time(start)}
    if end is not None:
        timing["EndTime"] = locale_time(end)
    # Elapsed milliseconds as a float, like the documented samples (2630.0).
    timing["Time"] = float(round(((end or now) - start).total_seconds() * 1000))
    return timing


def _entry(
    execution: AutomationExecution, detail_type: str, detail: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "Resources": [execution.arn, execution.definition_arn],
        # moto's put_events carries `Time` through as epoch seconds.
        "Time": now.timestamp(),
    }


def _base_detail(execution: AutomationExecution, status: str) -> dict[str, Any]:
    return {
        "ExecutionId": execution.execution_id,
        "Definition": execution.runbook.name,
        "DefinitionVersion": float(execution.runbook.version),
        "Status": status,
    }


def step_event(
    execution: AutomationExecution, step: StepExecution, now: datetime
) -> dict[str, Any]:
    detail = _base_detail(execution, step.status)
    detail.update(_timing(step.start_time, step.end_time, now))
    detail.update({"StepName": step.name, "Action": step.action})
    return _entry(execution, STEP_DETAIL_TYPE, detail, now)


def execution_event(execution: AutomationExecution, now: datetime) -> dict[str, Any]:
    detail = _base_detail(execution, execution.status)
    detail.update(_timing(execution.start_time, execution.end_time, now))
    detail["ExecutedBy"] = execution.executed_by
    return _entry(execution, EXECUTION_DETAIL_TYPE, detail, now)


def put_events(account_id: str, region: str, entries: list[dict[str, Any]]) -> None:
    """Put on the default bus through moto, so its rules and their targets route the events.

    EventBridge delivery of service events is best effort (SSM user guide), so a routing
    failure is logged and never fails the automation.
    """
    backend = events_backends[account_id][region]
    for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries.
        try:
            backend.put_events(entries[start : start + 10])
        except Exception:
            log.exception("could not route SSM Automation events")


def approval_notice(
    execution: AutomationExecution, step: StepExecution, message: str
) -> tuple[str, str]:
    """Subject and body of the SNS message sent when an `aws:approve` step starts waiting.

    AWS documents no format for this message, so consumers must not parse its layout: it is
    plain text that carries the execution id, the step's Message and the console approval URL.
    """
    execution_id = execution.execution_id
    url = (
        f"https://{execution.region}.console.aws.amazon.com/systems-manager/automation"
        f"/execution/{execution_id}/approval"
    )
    body = "\n".join(
        [
            f"Automation execution {execution_id} is waiting for approval.",
            f"Runbook: {execution.runbook.name} (version {execution.runbook.version})",
            f"Step: {step.name}",
            f"Message: {message}",
            f"Approve or reject: {url}",
            "Or with the AWS CLI: aws ssm send-automation-signal "
            f"--automation-execution-id {execution_id} --signal-type Approve",
        ]
    )
    return "Automation approval request", body


def publish(topic_arn: str, subject: str, body: str) -> None:
    """Publish through moto's SNS (raises if the topic does not exist, as AWS would)."""
    _, _, _, region, account_id, _ = topic_arn.split(":", 5)
    sns_backends[account_id][region].publish(message=body, arn=topic_arn, subject=subject)
