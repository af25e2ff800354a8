"""How SSM refuses a signal is undocumented (docs/sandbox.md, "Semantics AWS does not document").

The engine answers InvalidAutomationSignalException to a repeat, an unlisted principal or a
closed step; real SSM may answer another code. Whatever it answers, the person is told in words
(a domain error the listener turns into a message), never a botocore error.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bot.errors import ApprovalClosed, RoleNotAssumable, ServiceError, SignoffError
from bot.gateways.automation import ApproverSignals
from bot.models import Identity, Verdict

EXECUTION_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
ALICE = Identity("U0ALICE", "Alice", role_arn="arn:aws:iam::123456789012:role/SignoffApprover")


def client(service: str) -> Any:
    return boto3.client(
        service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="x"
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("InvalidAutomationSignalException", ApprovalClosed),
        ("AccessDeniedException", RoleNotAssumable),
        ("ValidationException", ServiceError),
        ("AutomationStepNotFoundException", SignoffError),
        ("InternalServerError", ServiceError),
    ],
)
def test_every_refusal_of_a_signal_becomes_words_for_the_person(
    code: str, expected: type[SignoffError]
) -> None:
    sts, ssm = client("sts"), client("ssm")
    with Stubber(sts) as sts_stub, Stubber(ssm) as ssm_stub:
        sts_stub.add_response(
            "assume_role",
            {
                "Credentials": {
                    "AccessKeyId": "ASIAEXAMPLEEXAMPLE00",
                    "SecretAccessKey": "x" * 40,
                    "SessionToken": "t" * 40,
                    "Expiration": "2026-11-23T11:15:00Z",
                }
            },
        )
        ssm_stub.add_client_error("send_automation_signal", service_error_code=code)
        signals = ApproverSignals(sts, lambda credentials: ssm)  # type: ignore[arg-type]

        with pytest.raises(expected) as raised:
            signals.send(ALICE, EXECUTION_ID, Verdict.APPROVE, "ok")

    assert str(raised.value)
