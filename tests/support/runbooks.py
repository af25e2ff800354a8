"""Starting the access-key runbook (tests/fixtures/ssm_access_key_document.yaml) for bob."""

from __future__ import annotations

from typing import Any

KEY_REQUEST_DOCUMENT = "Signoff-AccessKeyRequest"


def start_key_request(ssm: Any, topic_arn: str, approvers: list[str], reason: str = "-") -> str:
    """The new execution's id; the document must exist under KEY_REQUEST_DOCUMENT."""
    response = ssm.start_automation_execution(
        DocumentName=KEY_REQUEST_DOCUMENT,
        Parameters={
            "IamUser": ["bob"],
            "RequestReason": [reason],
            "Approvers": approvers,
            "NotificationArn": [topic_arn],
        },
    )
    return str(response["AutomationExecutionId"])
