"""Runbook features through boto3: parameters, aws:sleep, aws:executeAwsApi, branching."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from sandbox.aws.clock import Clock

REGION = "us-east-1"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ACCESS_KEY_DOCUMENT = "Signoff-AccessKeyRequest"


@pytest.fixture
def ssm(aws: object) -> Any:
    return boto3.client("ssm", region_name=REGION)


def execution(ssm: Any, execution_id: str) -> dict[str, Any]:
    return dict(
        ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    )


def statuses(ssm: Any, execution_id: str) -> dict[str, str]:
    return {s["StepName"]: s["StepStatus"] for s in execution(ssm, execution_id)["StepExecutions"]}


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


VALID = {
    "IamUser": ["bob"],
    "RequestReason": ["why not"],
    "Approvers": ["alice"],
    "NotificationArn": ["arn:aws:sns:us-east-1:123456789012:AutomationTopic"],
}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param(
            {"IamUser": None}, "InvalidAutomationExecutionParametersException", id="missing"
        ),
        pytest.param(
            {"Colour": ["blue"]}, "InvalidAutomationExecutionParametersException", id="unknown"
        ),
        pytest.param(
            {"MinRequiredApprovals": ["many"]},
            "InvalidAutomationExecutionParametersException",
            id="not-an-integer",
        ),
        pytest.param(
            {"IamUser": ["bob", "carol"]},
            "InvalidAutomationExecutionParametersException",
            id="two-values-for-a-string",
        ),
    ],
)
def test_bad_parameters_are_refused_before_anything_runs(
    ssm: Any, create_runbook: Callable[..., str], change: dict[str, Any], code: str
) -> None:
    create_runbook(ACCESS_KEY_DOCUMENT, "ssm_access_key_document.yaml")
    parameters = {**VALID, **change}
    parameters = {key: value for key, value in parameters.items() if value is not None}

    with pytest.raises(ClientError) as excinfo:
        ssm.start_automation_execution(DocumentName=ACCESS_KEY_DOCUMENT, Parameters=parameters)

    assert error_code(excinfo) == code
    assert ssm.describe_automation_executions()["AutomationExecutionMetadataList"] == []


def test_unknown_documents_versions_and_executions_have_their_own_errors(
    ssm: Any, create_runbook: Callable[..., str]
) -> None:
    create_runbook(ACCESS_KEY_DOCUMENT, "ssm_access_key_document.yaml")
    ssm.create_document(
        Name="A-Command-Document",
        DocumentType="Command",
        Content=json.dumps(
            {
                "schemaVersion": "2.2",
                "mainSteps": [
                    {
                        "action": "aws:runShellScript",
                        "name": "run",
                        "inputs": {"runCommand": ["date"]},
                    }
                ],
            }
        ),
    )
    cases = [
        ({"DocumentName": "No-Such-Runbook"}, "AutomationDefinitionNotFoundException"),
        ({"DocumentName": "A-Command-Document"}, "AutomationDefinitionNotFoundException"),
        (
            {"DocumentName": ACCESS_KEY_DOCUMENT, "DocumentVersion": "7", "Parameters": VALID},
            "AutomationDefinitionVersionNotFoundException",
        ),
        (
            {"DocumentName": ACCESS_KEY_DOCUMENT, "Mode": "Interactive", "Parameters": VALID},
            "ValidationException",
        ),
    ]
    for request, code in cases:
        with pytest.raises(ClientError) as excinfo:
            ssm.start_automation_execution(**request)
        assert error_code(excinfo) == code, request

    with pytest.raises(ClientError) as excinfo:
        ssm.get_automation_execution(AutomationExecutionId="0" * 8 + "-0000-0000-0000-" + "0" * 12)
    assert error_code(excinfo) == "AutomationExecutionNotFoundException"


def test_a_json_runbook_runs_like_its_yaml_twin(
    ssm: Any, engine_settle: Callable[..., None]
) -> None:
    content = yaml.safe_load((FIXTURES / "ssm_access_key_document.yaml").read_text())
    ssm.create_document(
        Name="Json-Runbook",
        Content=json.dumps(content),
        DocumentType="Automation",
        DocumentFormat="JSON",
    )
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="AutomationTopic")["TopicArn"]

    execution_id = ssm.start_automation_execution(
        DocumentName="Json-Runbook", Parameters={**VALID, "NotificationArn": [topic]}
    )["AutomationExecutionId"]
    engine_settle()

    (step,) = execution(ssm, execution_id)["StepExecutions"]
    assert step["StepStatus"] == "Waiting"
    assert step["Inputs"]["Message"] == "Access key requested for bob. Reason: why not"


def test_a_client_token_makes_start_idempotent(
    ssm: Any, create_runbook: Callable[..., str]
) -> None:
    create_runbook("Sleeper", "ssm_sleep_document.yaml")
    token = "11111111-2222-3333-4444-555555555555"

    first = ssm.start_automation_execution(DocumentName="Sleeper", ClientToken=token)
    again = ssm.start_automation_execution(DocumentName="Sleeper", ClientToken=token)
    with pytest.raises(ClientError) as excinfo:
        ssm.start_automation_execution(
            DocumentName="Sleeper", ClientToken=token, Parameters={"Duration": ["PT1M"]}
        )

    assert first["AutomationExecutionId"] == again["AutomationExecutionId"]
    assert error_code(excinfo) == "IdempotentParameterMismatch"
    assert len(ssm.describe_automation_executions()["AutomationExecutionMetadataList"]) == 1


def test_sleep_waits_for_the_engine_clock(
    ssm: Any, create_runbook: Callable[..., str], engine_settle: Callable[..., None], clock: Clock
) -> None:
    create_runbook("Sleeper", "ssm_sleep_document.yaml")
    execution_id = ssm.start_automation_execution(DocumentName="Sleeper")["AutomationExecutionId"]
    engine_settle()
    assert statuses(ssm, execution_id) == {"Wait": "InProgress"}

    clock.advance(299)
    engine_settle()
    assert execution(ssm, execution_id)["AutomationExecutionStatus"] == "InProgress"

    clock.advance(2)
    engine_settle()
    assert execution(ssm, execution_id)["AutomationExecutionStatus"] == "Success"
    assert statuses(ssm, execution_id) == {"Wait": "Success", "Record": "Success"}
    assert ssm.get_parameter(Name=f"/sandbox/slept/{execution_id}")["Parameter"]["Value"] == "done"


def test_a_malformed_sleep_duration_fails_the_step(
    ssm: Any, create_runbook: Callable[..., str], engine_settle: Callable[..., None]
) -> None:
    create_runbook("Sleeper", "ssm_sleep_document.yaml")
    execution_id = ssm.start_automation_execution(
        DocumentName="Sleeper", Parameters={"Duration": ["five minutes"]}
    )["AutomationExecutionId"]
    engine_settle()

    result = execution(ssm, execution_id)
    assert result["AutomationExecutionStatus"] == "Failed"
    assert "duration" in result["StepExecutions"][0]["FailureMessage"]


def test_execute_aws_api_calls_the_local_aws_and_passes_outputs_on(
    ssm: Any, create_runbook: Callable[..., str], engine_settle: Callable[..., None]
) -> None:
    create_runbook("TopicKeeper", "ssm_execute_api_document.yaml")
    execution_id = ssm.start_automation_execution(
        DocumentName="TopicKeeper",
        Parameters={
            "TopicName": ["AutomationReleases"],
            "Tags": ['{"Key": "team", "Value": "platform"}'],
            "Notify": ["false"],
        },
    )["AutomationExecutionId"]
    engine_settle()

    result = execution(ssm, execution_id)
    assert result["AutomationExecutionStatus"] == "Success", result.get("FailureMessage")
    sns = boto3.client("sns", region_name=REGION)
    topic_arn = f"arn:aws:sns:{REGION}:123456789012:AutomationReleases"
    assert topic_arn in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert sns.list_tags_for_resource(ResourceArn=topic_arn)["Tags"] == [
        {"Key": "team", "Value": "platform"}
    ]
    assert result["Outputs"] == {"ReadBack.Value": [topic_arn], "ReadBack.Version": ["1"]}
    create = result["StepExecutions"][0]
    assert create["Outputs"] == {"TopicArn": [topic_arn]}
    assert json.loads(create["Inputs"]["Tags"]) == [{"Key": "team", "Value": "platform"}]
    (described,) = ssm.describe_parameters()["Parameters"]
    assert described["Description"] == f"notify=false in {REGION}"


def test_an_api_error_fails_the_step(
    ssm: Any, create_runbook: Callable[..., str], engine_settle: Callable[..., None]
) -> None:
    create_runbook("TopicKeeper", "ssm_execute_api_document.yaml")
    ssm.put_parameter(Name="/sandbox/topics/Taken", Value="x", Type="String")
    execution_id = ssm.start_automation_execution(
        DocumentName="TopicKeeper", Parameters={"TopicName": ["Taken"]}
    )["AutomationExecutionId"]
    engine_settle()

    result = execution(ssm, execution_id)
    assert result["AutomationExecutionStatus"] == "Failed"
    assert statuses(ssm, execution_id) == {"CreateTopic": "Success", "Remember": "Failed"}
    assert "ParameterAlreadyExists" in result["FailureMessage"]


@pytest.fixture
def branching(
    create_runbook: Callable[..., str],
    deploy_lambda: Callable[..., str],
    recorder: Callable[..., Any],
) -> tuple[Any, list[int]]:
    create_runbook("Branching", "ssm_branching_document.yaml")
    outcome = recorder()
    deploy_lambda("SandboxTestOutcome", outcome)
    attempts: list[int] = []

    def flaky(event: Any, context: Any) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError(f"attempt {len(attempts)} failed")
        return "ok"

    deploy_lambda("SandboxTestFlaky", flaky)
    return outcome, attempts


def test_max_attempts_retries_a_failing_lambda_step(
    ssm: Any,
    branching: tuple[Any, list[int]],
    engine_settle: Callable[..., None],
    user_session: Callable[[str], boto3.Session],
) -> None:
    outcome, attempts = branching
    execution_id = ssm.start_automation_execution(
        DocumentName="Branching", Parameters={"Approvers": ["alice"]}
    )["AutomationExecutionId"]
    engine_settle()
    user_session("alice").client("ssm").send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Approve"
    )
    engine_settle()

    assert execution(ssm, execution_id)["AutomationExecutionStatus"] == "Success"
    assert len(attempts) == 3
    assert statuses(ssm, execution_id) == {
        "Approve": "Success",
        "Flaky": "Success",
        "RecordApproval": "Success",
    }
    assert outcome.events == [{"outcome": "approved"}]


def test_a_rejection_follows_on_failure_to_the_named_step(
    ssm: Any,
    branching: tuple[Any, list[int]],
    engine_settle: Callable[..., None],
    user_session: Callable[[str], boto3.Session],
) -> None:
    outcome, attempts = branching
    execution_id = ssm.start_automation_execution(
        DocumentName="Branching", Parameters={"Approvers": ["alice"]}
    )["AutomationExecutionId"]
    engine_settle()
    user_session("alice").client("ssm").send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Reject"
    )
    engine_settle()

    result = execution(ssm, execution_id)
    assert statuses(ssm, execution_id) == {"Approve": "Failed", "RecordRejection": "Success"}
    assert outcome.events == [{"outcome": "rejected"}]
    assert attempts == []
    # A failed critical step makes the run Failed even though onFailure carried it on.
    assert result["AutomationExecutionStatus"] == "Failed"
    assert "rejected" in result["FailureMessage"]


def test_a_non_critical_failure_continues_and_the_run_succeeds(
    ssm: Any,
    create_runbook: Callable[..., str],
    deploy_lambda: Callable[..., str],
    recorder: Callable[..., Any],
    engine_settle: Callable[..., None],
    user_session: Callable[[str], boto3.Session],
) -> None:
    create_runbook("Branching", "ssm_branching_document.yaml")
    outcome = recorder()
    deploy_lambda("SandboxTestOutcome", outcome)

    def broken(event: Any, context: Any) -> None:
        raise ValueError("the flaky dependency is down")

    deploy_lambda("SandboxTestFlaky", broken)
    execution_id = ssm.start_automation_execution(
        DocumentName="Branching", Parameters={"Approvers": ["alice"]}
    )["AutomationExecutionId"]
    engine_settle()
    user_session("alice").client("ssm").send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Approve"
    )
    engine_settle()

    result = execution(ssm, execution_id)
    assert result["AutomationExecutionStatus"] == "Success"
    flaky = next(s for s in result["StepExecutions"] if s["StepName"] == "Flaky")
    assert flaky["StepStatus"] == "Failed"
    assert "the flaky dependency is down" in flaky["FailureMessage"]
    assert flaky["Outputs"]["FunctionError"] == ["Unhandled"]
    assert outcome.events == [{"outcome": "approved"}]


def test_a_lambda_error_aborts_the_access_key_run(
    ssm: Any,
    create_runbook: Callable[..., str],
    deploy_lambda: Callable[..., str],
    engine_settle: Callable[..., None],
    user_session: Callable[[str], boto3.Session],
) -> None:
    create_runbook(ACCESS_KEY_DOCUMENT, "ssm_access_key_document.yaml")

    def refuse(event: Any, context: Any) -> None:
        raise PermissionError("IAM user already has 2 access keys")

    deploy_lambda("SignoffTestIssueAccessKey", refuse)
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="AutomationTopic")["TopicArn"]
    execution_id = ssm.start_automation_execution(
        DocumentName=ACCESS_KEY_DOCUMENT, Parameters={**VALID, "NotificationArn": [topic]}
    )["AutomationExecutionId"]
    engine_settle()
    user_session("alice").client("ssm").send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Approve"
    )
    engine_settle()

    result = execution(ssm, execution_id)
    assert result["AutomationExecutionStatus"] == "Failed"
    assert statuses(ssm, execution_id) == {"ApprovalStep": "Success", "CreateAccessKey": "Failed"}
    assert "IAM user already has 2 access keys" in result["FailureMessage"]


def test_approve_inputs_aws_would_reject_fail_the_step(
    ssm: Any, create_runbook: Callable[..., str], engine_settle: Callable[..., None]
) -> None:
    create_runbook(ACCESS_KEY_DOCUMENT, "ssm_access_key_document.yaml")
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="AutomationTopic")["TopicArn"]
    cases = {
        "too-many-approvers": {"Approvers": [f"user{i}" for i in range(11)]},
        "quorum-above-approvers": {"Approvers": ["alice"], "MinRequiredApprovals": ["2"]},
        "missing-topic": {"NotificationArn": [topic.replace("AutomationTopic", "Gone")]},
    }
    ids = {
        name: ssm.start_automation_execution(
            DocumentName=ACCESS_KEY_DOCUMENT,
            Parameters={**VALID, "NotificationArn": [topic], **change},
        )["AutomationExecutionId"]
        for name, change in cases.items()
    }
    engine_settle()

    for name, execution_id in ids.items():
        result = execution(ssm, execution_id)
        assert result["AutomationExecutionStatus"] == "Failed", name
        assert result["StepExecutions"][0]["StepStatus"] == "Failed", name


_INVOKE_RUNBOOK = """
schemaVersion: "0.3"
parameters:
  Reason: {type: String}
mainSteps:
  - name: Invoke
    action: aws:invokeLambdaFunction
    inputs:
      FunctionName: sandbox-test-input-payload
      %s
"""


def test_input_payload_hands_the_function_a_mapping_with_each_value_as_it_was(
    create_runbook: Callable[..., str],
    deploy_lambda: Callable[..., str],
    recorder: Callable[..., Any],
    engine_settle: Callable[..., None],
) -> None:
    seen = recorder({"ok": True})
    deploy_lambda("sandbox-test-input-payload", seen)
    create_runbook(
        "InputPayloadRunbook",
        content=_INVOKE_RUNBOOK
        % "InputPayload: {reason: '{{ Reason }}', id: '{{ automation:EXECUTION_ID }}'}",
    )
    reason = 'say "hi"\nfrom C:\\keys'

    started = boto3.client("ssm", region_name=REGION).start_automation_execution(
        DocumentName="InputPayloadRunbook", Parameters={"Reason": [reason]}
    )
    engine_settle()

    assert seen.events == [{"reason": reason, "id": started["AutomationExecutionId"]}]


def test_given_both_payloads_the_function_gets_input_payload(
    create_runbook: Callable[..., str],
    deploy_lambda: Callable[..., str],
    recorder: Callable[..., Any],
    engine_settle: Callable[..., None],
) -> None:
    # AWS: "If you define both InputPayload and Payload for the action, InputPayload takes
    # precedence and the Payload value isn't used."
    seen = recorder({"ok": True})
    deploy_lambda("sandbox-test-input-payload", seen)
    create_runbook(
        "BothPayloadsRunbook",
        content=_INVOKE_RUNBOOK % 'InputPayload: {a: mapping}\n      Payload: \'{"a": "text"}\'',
    )
    ssm = boto3.client("ssm", region_name=REGION)

    started = ssm.start_automation_execution(
        DocumentName="BothPayloadsRunbook", Parameters={"Reason": ["x"]}
    )
    engine_settle()

    execution = ssm.get_automation_execution(AutomationExecutionId=started["AutomationExecutionId"])
    assert execution["AutomationExecution"]["AutomationExecutionStatus"] == "Success"
    assert seen.events == [{"a": "mapping"}]
