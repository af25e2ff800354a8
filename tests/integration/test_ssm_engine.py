"""The SSM Automation engine through boto3: the seed 004 access-key runbook end to end."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.aws.clock import Clock

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
DOCUMENT = "Signoff-AccessKeyRequest"
ISSUER = "SignoffTestIssueAccessKey"  # the function name the fixture runbook invokes
LOCALE_TIME = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M$")


@dataclass
class AccessKeyFlow:
    ssm: Any
    topic_arn: str
    issuer: Any  # conftest's Recorder
    requester_arn: str

    def start(self, approvers: list[str], minimum: int | None = None) -> str:
        parameters = {
            "IamUser": ["bob"],
            "RequestReason": ["deploy pipeline"],
            "Approvers": approvers,
            "NotificationArn": [self.topic_arn],
        }
        if minimum is not None:
            parameters["MinRequiredApprovals"] = [str(minimum)]
        response = self.ssm.start_automation_execution(DocumentName=DOCUMENT, Parameters=parameters)
        return str(response["AutomationExecutionId"])

    def execution(self, execution_id: str) -> dict[str, Any]:
        response = self.ssm.get_automation_execution(AutomationExecutionId=execution_id)
        return dict(response["AutomationExecution"])

    def approval(self, execution_id: str) -> dict[str, Any]:
        steps = self.ssm.describe_automation_step_executions(
            AutomationExecutionId=execution_id,
            Filters=[{"Key": "Action", "Values": ["aws:approve"]}],
        )["StepExecutions"]
        return dict(steps[0])


@pytest.fixture
def flow(
    aws: object,
    create_runbook: Callable[..., str],
    deploy_lambda: Callable[..., str],
    user_session: Callable[[str], boto3.Session],
    recorder: Callable[..., Any],
) -> AccessKeyFlow:
    create_runbook(DOCUMENT, "ssm_access_key_document.yaml")
    issuer = recorder(result={"status": "created", "secret_name": "bob/access-key-1"})
    deploy_lambda(ISSUER, issuer)
    topic_arn = boto3.client("sns", region_name=REGION).create_topic(
        Name="AutomationAccessKeyRequests"
    )["TopicArn"]
    requester = user_session("requester")
    return AccessKeyFlow(
        ssm=requester.client("ssm"),
        topic_arn=topic_arn,
        issuer=issuer,
        requester_arn=f"arn:aws:iam::{ACCOUNT}:user/requester",
    )


def signal(session: boto3.Session, execution_id: str, kind: str, comment: str = "") -> None:
    payload = {"Comment": [comment]} if comment else {}
    session.client("ssm").send_automation_signal(
        AutomationExecutionId=execution_id,
        SignalType=kind,
        **({"Payload": payload} if payload else {}),
    )


def decisions(step: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(item) for item in step["Outputs"]["ApproverDecisions"]]


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_a_started_request_waits_for_approval_with_aws_shaped_state(
    flow: AccessKeyFlow, engine_settle: Callable[..., None]
) -> None:
    execution_id = flow.start(["alice"])
    engine_settle()

    execution = flow.execution(execution_id)
    assert str(uuid.UUID(execution_id)) == execution_id
    assert execution["AutomationExecutionStatus"] == "Waiting"
    assert execution["CurrentStepName"] == "ApprovalStep"
    assert execution["CurrentAction"] == "aws:approve"
    assert execution["Mode"] == "Auto"
    assert execution["ExecutedBy"] == flow.requester_arn
    assert isinstance(execution["ExecutionStartTime"], datetime)
    assert "ExecutionEndTime" not in execution
    assert execution["Parameters"] == {
        "IamUser": ["bob"],
        "RequestReason": ["deploy pipeline"],
        "Approvers": ["alice"],
        "MinRequiredApprovals": ["1"],  # the runbook default, as AWS reports it
        "NotificationArn": [flow.topic_arn],
    }
    (step,) = execution["StepExecutions"]
    assert step["StepStatus"] == "Waiting"
    assert step["TimeoutSeconds"] == 604800
    assert step["Inputs"] == {
        "NotificationArn": flow.topic_arn,
        "Message": "Access key requested for bob. Reason: deploy pipeline",
        "MinRequiredApprovals": "1",
        "Approvers": '["alice"]',
    }
    assert step["Outputs"] == {"ApprovalStatus": ["Waiting"], "ApproverDecisions": []}
    assert flow.issuer.events == []


def test_an_approved_request_runs_the_issuing_lambda(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    user_session: Callable[[str], boto3.Session],
) -> None:
    execution_id = flow.start(["alice"])
    engine_settle()

    signal(user_session("alice"), execution_id, "Approve", "Looks good")
    engine_settle()

    execution = flow.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Success"
    assert execution["ExecutionEndTime"] >= execution["ExecutionStartTime"]
    approve, issue = execution["StepExecutions"]
    assert approve["StepStatus"] == "Success"
    assert approve["Outputs"]["ApprovalStatus"] == ["Approved"]
    (decision,) = decisions(approve)
    assert decision["Approver"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    # The element as a real account returns it (tests/fixtures/upstream/README.md): the verdict
    # under `Decision`, the time in microseconds with a `Z`.
    assert set(decision) == {"Approver", "Decision", "ApprovalDecisionTime", "Comment"}
    assert decision["Decision"] == "Approve"
    assert decision["Comment"] == "Looks good"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", decision["ApprovalDecisionTime"])
    assert issue["StepStatus"] == "Success"
    assert flow.issuer.events == [
        {"iam_user": "bob", "execution_id": execution_id, "region": REGION, "account": ACCOUNT}
    ]
    assert json.loads(issue["Outputs"]["Payload"][0])["status"] == "created"
    assert execution["Outputs"] == {"CreateAccessKey.Payload": issue["Outputs"]["Payload"]}


def test_a_rejected_request_fails_and_never_issues_a_key(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    user_session: Callable[[str], boto3.Session],
) -> None:
    execution_id = flow.start(["alice"])
    engine_settle()

    signal(user_session("alice"), execution_id, "Reject", "Not for prod")
    engine_settle()

    execution = flow.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert "rejected" in execution["FailureMessage"]
    (approve,) = execution["StepExecutions"]
    assert approve["StepStatus"] == "Failed"
    assert "rejected" in approve["FailureMessage"]
    assert approve["Outputs"]["ApprovalStatus"] == ["Rejected"]
    assert [d["Decision"] for d in decisions(approve)] == ["Reject"]
    assert flow.issuer.events == []


def test_an_unanswered_request_times_out_after_seven_days(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    clock: Clock,
    user_session: Callable[[str], boto3.Session],
) -> None:
    execution_id = flow.start(["alice"])
    engine_settle()

    clock.advance(604800 - 1)
    engine_settle()
    assert flow.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"

    clock.advance(1)
    engine_settle()
    execution = flow.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "TimedOut"
    assert execution["StepExecutions"][0]["StepStatus"] == "TimedOut"
    assert flow.issuer.events == []
    with pytest.raises(ClientError) as excinfo:
        signal(user_session("alice"), execution_id, "Approve")
    assert error_code(excinfo) == "InvalidAutomationSignalException"


def test_two_of_three_approvers_in_every_accepted_form_reach_quorum(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    create_role: Callable[[str], str],
    role_session: Callable[[str, str], boto3.Session],
    user_session: Callable[[str], boto3.Session],
) -> None:
    release_role = create_role("ReleaseApprovers")
    auditors = create_role("Auditors")
    carol_session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/Auditors/carol"
    execution_id = flow.start(["alice", release_role, carol_session_arn], minimum=2)
    engine_settle()

    signal(user_session("alice"), execution_id, "Approve")
    engine_settle()
    assert flow.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"
    assert len(decisions(flow.approval(execution_id))) == 1

    # The exact session ARN admits only that session of the Auditors role.
    with pytest.raises(ClientError) as excinfo:
        signal(role_session(auditors, "mallory"), execution_id, "Approve")
    assert error_code(excinfo) == "InvalidAutomationSignalException"

    # A role ARN admits any session of the role.
    signal(role_session(release_role, "bob"), execution_id, "Approve")
    engine_settle()

    assert flow.execution(execution_id)["AutomationExecutionStatus"] == "Success"
    assert [d["Approver"] for d in decisions(flow.approval(execution_id))] == [
        f"arn:aws:iam::{ACCOUNT}:user/alice",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/ReleaseApprovers/bob",
    ]


def test_one_reject_rejects_even_after_approvals(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    user_session: Callable[[str], boto3.Session],
) -> None:
    # Sandbox semantics (AWS documents none): a single Reject ends the step.
    execution_id = flow.start(["alice", "bob", "carol"], minimum=2)
    engine_settle()

    signal(user_session("alice"), execution_id, "Approve")
    signal(user_session("bob"), execution_id, "Reject", "Wrong user")
    engine_settle()

    execution = flow.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert f"arn:aws:iam::{ACCOUNT}:user/bob" in execution["FailureMessage"]
    assert [d["Decision"] for d in decisions(flow.approval(execution_id))] == [
        "Approve",
        "Reject",
    ]
    assert flow.issuer.events == []


def test_an_exact_session_entry_approves_as_that_session(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    create_role: Callable[[str], str],
    role_session: Callable[[str, str], boto3.Session],
) -> None:
    auditors = create_role("Auditors")
    execution_id = flow.start([f"arn:aws:sts::{ACCOUNT}:assumed-role/Auditors/carol"])
    engine_settle()

    signal(role_session(auditors, "carol"), execution_id, "Approve")
    engine_settle()

    assert flow.execution(execution_id)["AutomationExecutionStatus"] == "Success"


def test_two_sessions_of_a_listed_role_count_as_two_principals(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    create_role: Callable[[str], str],
    role_session: Callable[[str, str], boto3.Session],
) -> None:
    # Sandbox semantics (AWS documents none): each assumed-role session ARN is a principal.
    release_role = create_role("ReleaseApprovers")
    execution_id = flow.start([release_role, "alice"], minimum=2)
    engine_settle()

    signal(role_session(release_role, "U111"), execution_id, "Approve")
    signal(role_session(release_role, "U222"), execution_id, "Approve")
    engine_settle()

    assert flow.execution(execution_id)["AutomationExecutionStatus"] == "Success"


def test_a_caller_who_is_not_an_approver_is_refused(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    create_role: Callable[[str], str],
    role_session: Callable[[str, str], boto3.Session],
    user_session: Callable[[str], boto3.Session],
) -> None:
    listed_role = create_role("ReleaseApprovers")
    other_role = create_role("Developers")
    execution_id = flow.start(["alice", listed_role])
    engine_settle()

    for outsider in (user_session("eve"), role_session(other_role, "alice")):
        with pytest.raises(ClientError) as excinfo:
            signal(outsider, execution_id, "Approve")
        assert error_code(excinfo) == "InvalidAutomationSignalException"
        assert "not an approver" in excinfo.value.response["Error"]["Message"]
    engine_settle()

    assert flow.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"
    assert decisions(flow.approval(execution_id)) == []


def test_a_second_decision_by_the_same_principal_is_refused(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    user_session: Callable[[str], boto3.Session],
) -> None:
    execution_id = flow.start(["alice", "bob"], minimum=2)
    engine_settle()
    alice = user_session("alice")
    signal(alice, execution_id, "Approve")

    for kind in ("Approve", "Reject"):
        with pytest.raises(ClientError) as excinfo:
            signal(alice, execution_id, kind)
        assert error_code(excinfo) == "InvalidAutomationSignalException"
        assert "already" in excinfo.value.response["Error"]["Message"]
    engine_settle()

    assert flow.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"
    assert len(decisions(flow.approval(execution_id))) == 1


def test_signals_the_execution_cannot_take_are_refused(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    user_session: Callable[[str], boto3.Session],
) -> None:
    alice = user_session("alice")
    with pytest.raises(ClientError) as excinfo:
        signal(alice, str(uuid.uuid4()), "Approve")
    assert error_code(excinfo) == "AutomationExecutionNotFoundException"

    execution_id = flow.start(["alice"])
    engine_settle()
    with pytest.raises(ClientError) as excinfo:
        signal(alice, execution_id, "StartStep")
    assert error_code(excinfo) == "InvalidAutomationSignalException"

    signal(alice, execution_id, "Approve")
    engine_settle()
    with pytest.raises(ClientError) as excinfo:
        signal(user_session("alice"), execution_id, "Approve")
    assert error_code(excinfo) == "InvalidAutomationSignalException"


def test_stopping_a_waiting_execution_cancels_it_and_its_step(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    user_session: Callable[[str], boto3.Session],
) -> None:
    execution_id = flow.start(["alice"])
    engine_settle()

    assert "ResponseMetadata" in flow.ssm.stop_automation_execution(
        AutomationExecutionId=execution_id
    )
    engine_settle()

    execution = flow.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    assert execution["StepExecutions"][0]["StepStatus"] == "Cancelled"
    with pytest.raises(ClientError) as excinfo:
        flow.ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    assert error_code(excinfo) == "InvalidAutomationStatusUpdateException"
    with pytest.raises(ClientError) as excinfo:
        signal(user_session("alice"), execution_id, "Approve")
    assert error_code(excinfo) == "InvalidAutomationSignalException"
    assert flow.issuer.events == []


def test_the_approval_notice_reaches_a_subscribed_lambda(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    deploy_lambda: Callable[..., str],
    recorder: Callable[..., Any],
) -> None:
    notices = recorder()
    function_arn = deploy_lambda("signoff-test-approval-notice", notices)
    boto3.client("sns", region_name=REGION).subscribe(
        TopicArn=flow.topic_arn, Protocol="lambda", Endpoint=function_arn
    )

    execution_id = flow.start(["alice"])
    engine_settle()

    (event,) = notices.events
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["TopicArn"] == flow.topic_arn
    text = record["Sns"]["Message"]
    assert execution_id in text
    assert "Access key requested for bob. Reason: deploy pipeline" in text
    assert (
        f"https://{REGION}.console.aws.amazon.com/systems-manager/automation/execution/"
        f"{execution_id}/approval"
    ) in text


def test_approval_results_route_through_the_seed_rule_to_a_lambda(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    deploy_lambda: Callable[..., str],
    user_session: Callable[[str], boto3.Session],
    recorder: Callable[..., Any],
) -> None:
    results = recorder()
    function_arn = deploy_lambda("signoff-test-automation-result", results)
    events = boto3.client("events", region_name=REGION)
    events.put_rule(
        Name="AutomationResult",
        EventPattern=json.dumps(
            {
                "source": ["aws.ssm"],
                "detail-type": ["EC2 Automation Step Status-change Notification"],
                "detail": {"Action": ["aws:approve"], "Status": ["Success", "Failed"]},
            }
        ),
    )
    events.put_targets(Rule="AutomationResult", Targets=[{"Id": "result", "Arn": function_arn}])

    execution_id = flow.start(["alice"])
    engine_settle()
    assert results.events == []  # InProgress and Waiting do not match the pattern

    signal(user_session("alice"), execution_id, "Approve")
    engine_settle()

    (event,) = results.events
    assert event["source"] == "aws.ssm"
    assert event["detail-type"] == "EC2 Automation Step Status-change Notification"
    assert event["account"] == ACCOUNT
    assert event["region"] == REGION
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", event["time"])
    assert event["resources"] == [
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-execution/{execution_id}",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-definition/{DOCUMENT}:1",
    ]
    detail = event["detail"]
    assert detail["ExecutionId"] == execution_id
    assert detail["Definition"] == DOCUMENT
    assert detail["DefinitionVersion"] == 1.0
    assert detail["Status"] == "Success"
    assert detail["StepName"] == "ApprovalStep"
    assert detail["Action"] == "aws:approve"
    assert LOCALE_TIME.match(detail["StartTime"])
    assert LOCALE_TIME.match(detail["EndTime"])
    assert isinstance(detail["Time"], float)


def test_every_status_change_is_an_event_in_order(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    user_session: Callable[[str], boto3.Session],
) -> None:
    # An SQS target keeps delivery order (moto delivers to queues synchronously).
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="ssm-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="AllSsm", EventPattern=json.dumps({"source": ["aws.ssm"]}))
    events.put_targets(Rule="AllSsm", Targets=[{"Id": "queue", "Arn": queue_arn}])

    execution_id = flow.start(["alice"])
    engine_settle()
    signal(user_session("alice"), execution_id, "Approve")
    engine_settle()

    seen = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        for message in messages:
            event = json.loads(message["Body"])
            detail = event["detail"]
            assert detail["ExecutionId"] == execution_id
            if event["detail-type"].startswith("EC2 Automation Execution"):
                assert detail["ExecutedBy"] == flow.requester_arn
                seen.append(("execution", detail["Status"]))
            else:
                seen.append((detail["StepName"], detail["Status"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert seen == [
        ("execution", "InProgress"),
        ("ApprovalStep", "InProgress"),
        ("ApprovalStep", "Waiting"),
        ("execution", "Waiting"),
        ("ApprovalStep", "Success"),
        ("execution", "InProgress"),
        ("CreateAccessKey", "InProgress"),
        ("CreateAccessKey", "Success"),
        ("execution", "Success"),
    ]


def test_describe_calls_filter_executions_and_steps(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    create_runbook: Callable[..., str],
    user_session: Callable[[str], boto3.Session],
) -> None:
    create_runbook("Other-Approval", "ssm_sfn_approval_document.yaml")
    approved = flow.start(["alice"])
    waiting = flow.start(["alice"])
    other = flow.ssm.start_automation_execution(
        DocumentName="Other-Approval",
        Parameters={"Approvers": ["alice"], "NotificationArn": [flow.topic_arn]},
    )["AutomationExecutionId"]
    engine_settle()
    signal(user_session("alice"), approved, "Approve")
    engine_settle()

    def ids(*filters: dict[str, Any]) -> set[str]:
        listing = flow.ssm.describe_automation_executions(Filters=list(filters))
        return {m["AutomationExecutionId"] for m in listing["AutomationExecutionMetadataList"]}

    waiting_filter = {"Key": "ExecutionStatus", "Values": ["Waiting"]}
    prefix_filter = {"Key": "DocumentNamePrefix", "Values": ["Signoff-"]}
    assert ids(waiting_filter) == {waiting, other}
    assert ids(prefix_filter) == {approved, waiting}
    assert ids(waiting_filter, prefix_filter) == {waiting}
    assert ids({"Key": "CurrentAction", "Values": ["aws:invokeLambdaFunction"]}) == {approved}

    first = flow.ssm.describe_automation_executions(MaxResults=2)
    second = flow.ssm.describe_automation_executions(MaxResults=2, NextToken=first["NextToken"])
    paged = first["AutomationExecutionMetadataList"] + second["AutomationExecutionMetadataList"]
    assert {m["AutomationExecutionId"] for m in paged} == {approved, waiting, other}
    assert "NextToken" not in second

    def steps(*filters: dict[str, Any]) -> list[str]:
        listing = flow.ssm.describe_automation_step_executions(
            AutomationExecutionId=approved, Filters=list(filters)
        )
        return [s["StepName"] for s in listing["StepExecutions"]]

    assert steps({"Key": "StepExecutionStatus", "Values": ["Success"]}) == [
        "ApprovalStep",
        "CreateAccessKey",
    ]
    assert steps({"Key": "StepName", "Values": ["CreateAccessKey"]}) == ["CreateAccessKey"]
    assert steps({"Key": "Action", "Values": ["aws:approve"]}) == ["ApprovalStep"]
    reverse = flow.ssm.describe_automation_step_executions(
        AutomationExecutionId=approved, ReverseOrder=True
    )
    assert [s["StepName"] for s in reverse["StepExecutions"]] == ["CreateAccessKey", "ApprovalStep"]


def _both_ways(operation: str, result: dict[str, Any]) -> tuple[Any, Any]:
    """`result` as moto's model-driven serializer writes it, and as the sandbox's JsonResult."""
    from moto.core.responses import ActionContext, ActionResult
    from moto.core.serialize import get_serializer_class
    from moto.core.utils import get_service_model
    from moto.ssm.responses import SimpleSystemManagerResponse

    from sandbox.aws.api import JsonResult

    service = get_service_model("ssm")
    context = ActionContext(
        service,
        service.operation_model(operation),
        get_serializer_class("ssm", service.protocol),
        SimpleSystemManagerResponse(),
    )
    _, _, reference = ActionResult(result).execute_result(context)
    status, headers, fast = JsonResult(result).execute_result(context)
    assert status == 200
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    return json.loads(str(reference)), json.loads(fast)


def test_the_reads_written_directly_match_what_moto_writes_from_the_model(
    flow: AccessKeyFlow,
    engine_settle: Callable[..., None],
    clock: Clock,
    user_session: Callable[[str], boto3.Session],
) -> None:
    from moto.ssm.models import ssm_backends

    from sandbox.aws.engine import engine

    waiting, approved, rejected, cancelled, timed_out = (flow.start(["alice"]) for _ in range(5))
    engine_settle()
    signal(user_session("alice"), approved, "Approve", "looks right")
    signal(user_session("alice"), rejected, "Reject", "not this week — ünïcode")
    flow.ssm.stop_automation_execution(AutomationExecutionId=cancelled)
    engine_settle()
    clock.advance(604800 / 2)
    fresh = flow.start(["alice"])  # a second start time, half a week on
    engine_settle()
    clock.advance(604800 / 2 + 0.5)
    engine_settle()
    backend = ssm_backends[ACCOUNT][REGION]
    assert flow.execution(timed_out)["AutomationExecutionStatus"] == "TimedOut"
    assert flow.execution(fresh)["AutomationExecutionStatus"] == "Waiting"

    for execution_id in (waiting, approved, rejected, cancelled, timed_out, fresh):
        reference, fast = _both_ways(
            "GetAutomationExecution", {"AutomationExecution": engine.get(backend, execution_id)}
        )
        assert fast == reference
        reference, fast = _both_ways(
            "DescribeAutomationStepExecutions",
            {"StepExecutions": engine.list_steps(backend, execution_id)},
        )
        assert fast == reference
    reference, fast = _both_ways(
        "DescribeAutomationExecutions",
        {"AutomationExecutionMetadataList": engine.list_metadata(backend), "NextToken": "5"},
    )
    assert fast == reference
    assert len(fast["AutomationExecutionMetadataList"]) == 6
