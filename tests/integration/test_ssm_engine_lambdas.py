"""In-process Lambda functions through every path that invokes them in moto."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.awslambda.utils import get_backend as lambda_backend
from moto.core.models import botocore_stubber

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture
def lambda_client(aws: object) -> Any:
    return boto3.client("lambda", region_name=REGION)


def test_request_response_returns_the_handler_result_with_a_lambda_context(
    lambda_client: Any, deploy_lambda: Callable[..., str]
) -> None:
    seen: dict[str, Any] = {}

    def handler(event: Any, context: Any) -> dict[str, Any]:
        seen.update(
            event=event,
            name=context.function_name,
            version=context.function_version,
            arn=context.invoked_function_arn,
            memory=context.memory_limit_in_mb,
            request_id=context.aws_request_id,
            log_group=context.log_group_name,
            log_stream=context.log_stream_name,
            remaining=context.get_remaining_time_in_millis(),
            table=os.environ.get("TABLE_NAME"),
            function_env=os.getenv("AWS_LAMBDA_FUNCTION_NAME"),
        )
        return {"doubled": event["n"] * 2}

    arn = deploy_lambda("sandbox-test-double", handler, environment={"TABLE_NAME": "approvals"})

    response = lambda_client.invoke(FunctionName="sandbox-test-double", Payload=b'{"n": 21}')

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"doubled": 42}
    assert seen["event"] == {"n": 21}
    assert seen["name"] == "sandbox-test-double"
    assert seen["version"] == "$LATEST"
    assert seen["arn"] == arn
    assert seen["memory"] == 128
    assert len(seen["request_id"]) == 36
    assert seen["log_group"] == "/aws/lambda/sandbox-test-double"
    assert seen["log_stream"]
    assert 0 < seen["remaining"] <= 3000
    # The function's environment is visible inside the invocation only.
    assert seen["table"] == "approvals"
    assert seen["function_env"] == "sandbox-test-double"
    assert "TABLE_NAME" not in os.environ


def test_a_raising_handler_is_an_unhandled_function_error(
    lambda_client: Any, deploy_lambda: Callable[..., str]
) -> None:
    def handler(event: Any, context: Any) -> None:
        raise KeyError("iam_user")

    deploy_lambda("sandbox-test-broken", handler)

    response = lambda_client.invoke(FunctionName="sandbox-test-broken", Payload=b"{}")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "KeyError"
    assert "iam_user" in error["errorMessage"]
    assert error["stackTrace"]


def test_event_invocations_run_later_on_a_worker(
    lambda_client: Any,
    deploy_lambda: Callable[..., str],
    recorder: Callable[..., Any],
    engine_settle: Callable[..., None],
) -> None:
    calls = recorder()
    deploy_lambda("sandbox-test-async", calls)

    response = lambda_client.invoke(
        FunctionName="sandbox-test-async", InvocationType="Event", Payload=b'{"lazy": true}'
    )
    assert response["StatusCode"] == 202
    engine_settle()

    assert calls.events == [{"lazy": True}]


def test_an_event_that_fails_every_try_goes_to_the_on_failure_queue_as_aws_records_it(
    lambda_client: Any,
    deploy_lambda: Callable[..., str],
    engine_settle: Callable[..., None],
) -> None:
    def broken(event: Any, context: Any) -> Any:
        raise RuntimeError("Slack is down")

    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="sandbox-test-dlq")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    arn = deploy_lambda("sandbox-test-broken", broken)
    lambda_client.put_function_event_invoke_config(
        FunctionName="sandbox-test-broken",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    lambda_client.invoke(
        FunctionName="sandbox-test-broken", InvocationType="Event", Payload=b'{"notice": 1}'
    )
    engine_settle()

    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["functionArn"] == f"{arn}:$LATEST"
    assert record["requestPayload"] == {"notice": 1}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "Slack is down"


def test_unregistered_functions_run_the_handler_named_in_their_configuration(
    lambda_client: Any,
    deploy_lambda: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "sandbox_test_greeter.py").write_text(
        "def lambda_handler(event, context):\n"
        "    return {'greeting': 'hello ' + event['name'], 'by': context.function_name}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    deploy_lambda("sandbox-test-greeter", handler_path="sandbox_test_greeter.lambda_handler")
    deploy_lambda("sandbox-test-missing", handler_path="sandbox_test_nowhere.lambda_handler")

    greeted = lambda_client.invoke(FunctionName="sandbox-test-greeter", Payload=b'{"name": "ana"}')
    missing = lambda_client.invoke(FunctionName="sandbox-test-missing", Payload=b"{}")

    assert json.loads(greeted["Payload"].read()) == {
        "greeting": "hello ana",
        "by": "sandbox-test-greeter",
    }
    assert missing["FunctionError"] == "Unhandled"
    assert json.loads(missing["Payload"].read())["errorType"] == "Runtime.ImportModuleError"


def test_a_handler_module_is_imported_inside_its_functions_environment(
    lambda_client: Any,
    deploy_lambda: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What a module reads at import (Powertools reads its service name and log level then) is
    # the function's own environment, as on Lambda, not the sandbox process's.
    (tmp_path / "sandbox_test_import_env.py").write_text(
        "import os\n"
        "SERVICE = os.environ.get('POWERTOOLS_SERVICE_NAME')\n"
        "def lambda_handler(event, context):\n"
        "    return {'at_import': SERVICE, 'now': os.environ.get('POWERTOOLS_SERVICE_NAME')}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME", raising=False)
    deploy_lambda(
        "sandbox-test-import-env",
        handler_path="sandbox_test_import_env.lambda_handler",
        environment={"POWERTOOLS_SERVICE_NAME": "signoff"},
    )

    reply = lambda_client.invoke(FunctionName="sandbox-test-import-env", Payload=b"{}")

    assert json.loads(reply["Payload"].read()) == {"at_import": "signoff", "now": "signoff"}


def test_sns_delivers_to_a_subscribed_function_with_the_real_topic(
    deploy_lambda: Callable[..., str],
    recorder: Callable[..., Any],
    engine_settle: Callable[..., None],
) -> None:
    calls = recorder()
    arn = deploy_lambda("sandbox-test-subscriber", calls)
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="AutomationNotices")["TopicArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)["SubscriptionArn"]

    message_id = sns.publish(
        TopicArn=topic,
        Message="hello",
        Subject="Greeting",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )["MessageId"]
    engine_settle()

    (event,) = calls.events
    (record,) = event["Records"]
    assert record["EventSubscriptionArn"] == subscription
    assert record["Sns"]["TopicArn"] == topic
    assert record["Sns"]["MessageId"] == message_id
    assert record["Sns"]["Subject"] == "Greeting"
    assert record["Sns"]["Message"] == "hello"
    assert record["Sns"]["MessageAttributes"] == {"kind": {"Type": "String", "Value": "test"}}


def test_eventbridge_delivers_matching_events_to_function_targets(
    deploy_lambda: Callable[..., str],
    recorder: Callable[..., Any],
    engine_settle: Callable[..., None],
) -> None:
    whole, constant = recorder(), recorder()
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="Orders", EventPattern=json.dumps({"source": ["shop.orders"]}))
    events.put_targets(
        Rule="Orders",
        Targets=[
            {"Id": "whole", "Arn": deploy_lambda("sandbox-test-whole", whole)},
            {
                "Id": "constant",
                "Arn": deploy_lambda("sandbox-test-constant", constant),
                "Input": '{"fixed": true}',
            },
        ],
    )

    events.put_events(
        Entries=[
            {"Source": "shop.orders", "DetailType": "Order Placed", "Detail": '{"id": 7}'},
            {"Source": "shop.returns", "DetailType": "Order Returned", "Detail": '{"id": 8}'},
        ]
    )
    engine_settle()

    (event,) = whole.events
    assert event["source"] == "shop.orders"
    assert event["detail-type"] == "Order Placed"
    assert event["detail"] == {"id": 7}
    assert event["account"] == ACCOUNT
    assert event["region"] == REGION
    assert constant.events == [{"fixed": True}]


def test_any_json_value_is_an_event_and_a_result(
    lambda_client: Any, deploy_lambda: Callable[..., str]
) -> None:
    deploy_lambda("sandbox-test-echo", lambda event, context: [event, None])

    response = lambda_client.invoke(FunctionName="sandbox-test-echo", Payload=b'"text"')

    assert response["ExecutedVersion"] == "$LATEST"
    assert json.loads(response["Payload"].read()) == ["text", None]


def test_handlers_never_run_without_a_local_aws(
    deploy_lambda: Callable[..., str], recorder: Callable[..., Any]
) -> None:
    # As under moto's own ThreadedMotoServer: no in-process stubber and no AWS_ENDPOINT_URL,
    # so a handler's boto3 calls would go to AWS. The sandbox refuses to run it.
    calls = recorder()
    deploy_lambda("sandbox-test-guarded", calls)
    response_headers: dict[str, str] = {}
    botocore_stubber.enabled = False
    try:
        payload = lambda_backend(ACCOUNT, REGION).invoke(
            "sandbox-test-guarded", None, "{}", {}, response_headers
        )
    finally:
        botocore_stubber.enabled = True

    assert response_headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(payload)["errorType"] == "Sandbox.NoLocalAws"
    assert calls.events == []
