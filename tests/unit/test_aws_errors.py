"""No raw botocore error leaves a gateway: AWS's refusals and AWS's silence become domain errors.

A timeout or a dropped connection (after botocore's own retries) is a TransientError that says what
the bot was doing, so a person is told to try again and a Lambda's caller retries; botocore's
refusal of a parameter never quotes the parameter.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
    ValidationError,
)

from bot.errors import ServiceError, TransientError
from bot.gateways.automation import ApproverSignals, AutomationGateway
from bot.gateways.aws import wrap_aws_error
from bot.gateways.dynamo import DynamoTable, TableAt
from bot.gateways.stepfunctions import StepFunctionsGateway
from bot.models import Identity, Verdict

URL = "https://ssm.us-east-1.amazonaws.com/"
TOKEN = "AQC-secret-task-token-" + "t" * 100
EXECUTION_ID = "0123abcd-0123-4567-89ab-0123456789ab"
ROLE = "arn:aws:iam::123456789012:role/SignoffApprover"


@pytest.mark.parametrize(
    "silence",
    [
        ReadTimeoutError(endpoint_url=URL),
        ConnectTimeoutError(endpoint_url=URL),
        EndpointConnectionError(endpoint_url=URL),
    ],
    ids=type,
)
def test_no_answer_from_aws_is_transient_and_says_what_was_being_done(
    silence: BotoCoreError,
) -> None:
    error = wrap_aws_error(silence, "read the approvals table")

    assert type(error) is TransientError
    assert str(error) == (
        "AWS did not answer while the bot tried to read the approvals table "
        f"({type(silence).__name__}); try again."
    )


def test_a_refused_parameter_is_named_by_kind_never_quoted() -> None:
    refused = ParamValidationError(report=f"Invalid type for parameter taskToken, value: {TOKEN}")

    error = wrap_aws_error(refused, "send a task success to Step Functions")

    assert type(error) is ServiceError
    assert "ParamValidationError" in str(error) and TOKEN not in str(error)


def test_missing_credentials_say_so() -> None:
    error = wrap_aws_error(NoCredentialsError(), "list the identities table")

    assert type(error) is ServiceError
    assert str(error) == (
        "Could not list the identities table: NoCredentialsError: Unable to locate credentials"
    )


def test_other_failures_on_this_side_are_named_by_kind_never_quoted() -> None:
    # botocore's ValidationError quotes the value it refused (a host label, say).
    refused = ValidationError(value=TOKEN, param="AccountId", type_name="string")

    error = wrap_aws_error(refused, "read the approvals table")

    assert type(error) is ServiceError
    assert str(error) == "Could not read the approvals table (ValidationError)"


def test_aws_refusals_are_read_as_before() -> None:
    throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "PutItem")
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutItem")

    assert type(wrap_aws_error(throttled, "write to the audit table")) is TransientError
    assert str(wrap_aws_error(denied, "write to the audit table")) == (
        "AWS refused to write to the audit table: AccessDenied: no"
    )


# -- through the gateways: a client whose every request times out ------------------------------


def silent(service: str) -> Any:
    """A client whose requests never get an answer (one attempt: botocore's retries are its own)."""
    client = boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )

    def no_answer(request: Any, **_: Any) -> None:
        raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register_first("before-send", no_answer)
    return client


def test_a_table_that_does_not_answer_is_a_transient_error_naming_the_table() -> None:
    table = DynamoTable(TableAt(silent("dynamodb"), "signoff-approvals"), "approvals")

    with pytest.raises(TransientError, match="tried to read the approvals table") as read:
        table.get({"pk": "exec-1", "sk": "card#approve"})
    with pytest.raises(TransientError, match="tried to write to the approvals table"):
        table.claim({"pk": "exec-1", "sk": "decision#approve#alice"})
    with pytest.raises(TransientError, match="tried to scan the approvals table"):
        list(table.scan())
    assert isinstance(read.value.__cause__, ReadTimeoutError)


def test_ssm_not_answering_is_transient_for_reads_and_for_the_signal() -> None:
    gateway = AutomationGateway(silent("ssm"), "us-east-1")
    with pytest.raises(TransientError, match="read the automation execution"):
        gateway.get_approval(EXECUTION_ID)
    with pytest.raises(TransientError, match="list waiting automation executions"):
        gateway.waiting_execution_ids()

    signals = ApproverSignals(silent("sts"), lambda credentials: silent("ssm"))
    identity = Identity("U0ALICE", "alice", ROLE)
    with pytest.raises(TransientError, match=f"assume {ROLE}"):
        signals.send(identity, EXECUTION_ID, Verdict.APPROVE, "ok")


def test_step_functions_not_answering_is_transient_and_never_quotes_the_token() -> None:
    gateway = StepFunctionsGateway(silent("stepfunctions"))

    with pytest.raises(TransientError, match="send a task success") as sent:
        gateway.send_task_success(TOKEN, {"is_approved": True})

    assert TOKEN not in str(sent.value)
    assert sent.value.__cause__ is None and sent.value.__suppress_context__
