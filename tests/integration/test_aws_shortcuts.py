"""A click's two calls answered without moto's dispatch: the same answers, errors moto's own."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.aws import shortcuts
from sandbox.aws.server import SandboxServer
from tests.support.runbooks import KEY_REQUEST_DOCUMENT, start_key_request

REGION = "us-east-1"
UNKNOWN_EXECUTION = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths `shortcuts` answered itself (the rest went to moto)."""
    seen: list[str] = []
    real = shortcuts.answer

    def spy(environ: dict[str, Any]) -> Any:
        response = real(environ)
        if response is not None:
            seen.append(str(environ["PATH_INFO"]))
        return response

    monkeypatch.setattr(shortcuts, "answer", spy)
    return seen


def client(server: SandboxServer, service: str) -> Any:
    """A client that reaches the local AWS over HTTP, as a function's does."""
    return boto3.client(service, region_name=REGION, endpoint_url=server.url)


def test_an_event_invocation_is_queued_directly_and_runs(
    server: SandboxServer,
    answered: list[str],
    deploy_lambda: Callable[..., str],
    recorder: Callable[..., Any],
    engine_settle: Callable[..., None],
) -> None:
    lazy = recorder()
    arn = deploy_lambda("SignoffTestLazy", lazy)
    functions = client(server, "lambda")

    for name in ("SignoffTestLazy", arn):
        reply = functions.invoke(
            FunctionName=name, InvocationType="Event", Payload=json.dumps({"by": name}).encode()
        )
        assert reply["StatusCode"] == 202
    engine_settle()

    assert sorted(e["by"] for e in lazy.events) == sorted(["SignoffTestLazy", arn])
    assert len(answered) == 2, "both invocations were answered without moto's dispatch"


def test_an_event_invocation_of_an_unknown_function_gets_motos_error(
    server: SandboxServer, answered: list[str]
) -> None:
    with pytest.raises(ClientError) as failed:
        client(server, "lambda").invoke(FunctionName="nope", InvocationType="Event", Payload=b"{}")
    assert failed.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert answered == []


def test_get_automation_execution_answers_what_moto_answers(
    server: SandboxServer,
    answered: list[str],
    monkeypatch: pytest.MonkeyPatch,
    create_runbook: Callable[..., str],
    engine_settle: Callable[..., None],
) -> None:
    ssm = client(server, "ssm")
    topic = client(server, "sns").create_topic(Name="AutomationRequests")["TopicArn"]
    create_runbook(KEY_REQUEST_DOCUMENT, "ssm_access_key_document.yaml")
    execution_id = start_key_request(ssm, topic, ["alice"], "rotation")
    engine_settle()

    direct = ssm.get_automation_execution(AutomationExecutionId=execution_id)
    direct_error = _error(ssm, UNKNOWN_EXECUTION)
    assert answered == ["/"], "the known execution was answered directly, the unknown by moto"

    monkeypatch.setattr(shortcuts, "answer", lambda environ: None)
    through_moto = ssm.get_automation_execution(AutomationExecutionId=execution_id)
    assert direct["AutomationExecution"] == through_moto["AutomationExecution"]
    assert direct["AutomationExecution"]["AutomationExecutionStatus"] == "Waiting"
    # The body a shortcut read is put back: moto still sees which execution was asked for.
    assert direct_error == _error(ssm, UNKNOWN_EXECUTION)
    assert direct_error[0] == "AutomationExecutionNotFoundException"


def test_requests_it_does_not_know_pass_through_untouched() -> None:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "HTTP_X_AMZ_TARGET": "AmazonSSM.DescribeParameters",
        "CONTENT_LENGTH": "2",
        "wsgi.input": _Unreadable(),
    }
    assert shortcuts.answer(environ) is None
    unsigned = {**environ, "HTTP_X_AMZ_TARGET": "AmazonSSM.GetAutomationExecution"}
    assert shortcuts.answer(unsigned) is None, "no credential scope: moto decides"
    qualified = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/2015-03-31/functions/f/invocations",
        "QUERY_STRING": "Qualifier=2",
        "HTTP_X_AMZ_INVOCATION_TYPE": "Event",
        "wsgi.input": _Unreadable(),
    }
    assert shortcuts.answer(qualified) is None


class _Unreadable:
    def read(self, *args: object) -> bytes:
        raise AssertionError("a request passed through must keep its body unread")


def _error(ssm: Any, execution_id: str) -> tuple[str, str]:
    with pytest.raises(ClientError) as failed:
        ssm.get_automation_execution(AutomationExecutionId=execution_id)
    error = failed.value.response["Error"]
    return str(error["Code"]), str(error.get("Message", ""))


def test_a_role_session_its_role_does_not_allow_is_refused_on_this_path_too(
    server: SandboxServer,
    answered: list[str],
    deploy_lambda: Callable[..., str],
    recorder: Callable[..., Any],
    engine_settle: Callable[..., None],
) -> None:
    lazy = recorder()
    deploy_lambda("SignoffTestLazy", lazy)
    iam = client(server, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="OnlyOther", AssumeRolePolicyDocument=json.dumps(trust))
    allow_other = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": f"arn:aws:lambda:{REGION}:123456789012:function:SomethingElse",
            }
        ],
    }
    iam.put_role_policy(
        RoleName="OnlyOther", PolicyName="other", PolicyDocument=json.dumps(allow_other)
    )
    creds = client(server, "sts").assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="probe")[
        "Credentials"
    ]
    functions = boto3.client(
        "lambda",
        region_name=REGION,
        endpoint_url=server.url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )

    with pytest.raises(ClientError) as refused:
        functions.invoke(FunctionName="SignoffTestLazy", InvocationType="Event", Payload=b"{}")
    engine_settle()

    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert lazy.events == [] and answered == []
