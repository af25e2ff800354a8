"""The template is valid SAM: aws-sam-translator (what CloudFormation runs) transforms it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from sandbox.template import functions


class _NoManagedPolicies:
    """Signoff's functions bring their own roles, so SAM never looks a managed policy up."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        packaged = copy.deepcopy(template)
        # What `sam deploy` does first: the local artifact becomes an S3 object.
        packaged["Globals"]["Function"]["CodeUri"] = "s3://artifacts/signoff-lambda.zip"
        result: dict[str, Any] = transform(packaged, {}, _NoManagedPolicies())
    return result


def of_type(transformed: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in transformed["Resources"].items() if v["Type"] == kind}


def test_every_sam_function_becomes_a_lambda_function(
    template: dict[str, Any], transformed: dict[str, Any]
) -> None:
    lambdas = of_type(transformed, "AWS::Lambda::Function")

    assert set(lambdas) == set(functions(template))
    for function in lambdas.values():
        properties = function["Properties"]
        assert properties["Code"] == {"S3Bucket": "artifacts", "S3Key": "signoff-lambda.zip"}
        assert properties["Role"]["Fn::GetAtt"][1] == "Arn"  # our roles, none made by SAM
        assert "LogGroup" in properties["LoggingConfig"]
        assert properties["TracingConfig"] == {
            "Mode": {"Fn::If": ["TracingEnabled", "Active", "PassThrough"]}
        }
    assert of_type(transformed, "AWS::IAM::Role").keys() == {
        k for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Role"
    }


def test_the_function_url_is_public_with_both_permissions_aws_requires(
    transformed: dict[str, Any],
) -> None:
    [url] = of_type(transformed, "AWS::Lambda::Url").values()
    permissions = [
        p["Properties"]
        for p in of_type(transformed, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Ref": "SlackEventsFunctionAliaslive"}
    ]

    assert url["Properties"] == {
        "TargetFunctionArn": {"Ref": "SlackEventsFunctionAliaslive"},
        "AuthType": "NONE",
    }
    # Since October 2025 a NONE-auth URL needs InvokeFunctionUrl and InvokeFunction (via the URL).
    assert {p["Action"] for p in permissions} == {
        "lambda:InvokeFunctionUrl",
        "lambda:InvokeFunction",
    }
    assert all(p["Principal"] == "*" for p in permissions)


def test_rules_and_schedule_target_their_functions_with_permissions(
    transformed: dict[str, Any],
) -> None:
    rules = of_type(transformed, "AWS::Events::Rule")
    permissions = of_type(transformed, "AWS::Lambda::Permission")
    invoked_by_events = {
        p["Properties"]["SourceArn"]["Fn::GetAtt"][0]: p["Properties"]["FunctionName"]["Ref"]
        for p in permissions.values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
    }

    assert invoked_by_events == {
        "AutomationResultFunctionApprovalStepStatus": "AutomationResultFunction",
        "AutomationResultFunctionExecutionStatus": "AutomationResultFunction",
        "ReconcileFunctionEveryFiveMinutes": "ReconcileFunction",
    }
    assert set(invoked_by_events) == set(rules)


def test_async_failures_go_to_the_dead_letter_queue(transformed: dict[str, Any]) -> None:
    configs = of_type(transformed, "AWS::Lambda::EventInvokeConfig")

    assert {c["Properties"]["FunctionName"]["Ref"] for c in configs.values()} == {
        "SlackEventsFunction",
        "ApprovalNoticeFunction",
        "AutomationResultFunction",
        "ReconcileFunction",
    }
    for config in configs.values():
        on_failure = config["Properties"]["DestinationConfig"]["OnFailure"]
        assert on_failure["Destination"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


def test_slack_requests_reach_the_published_alias_so_snapstart_can_serve_them(
    transformed: dict[str, Any],
) -> None:
    # SnapStart restores published versions only: the URL, its permissions and the lazy
    # listeners' retry settings must all be the alias's, never $LATEST's.
    [url] = of_type(transformed, "AWS::Lambda::Url").values()
    [alias] = of_type(transformed, "AWS::Lambda::Alias").values()
    function = transformed["Resources"]["SlackEventsFunction"]["Properties"]
    url_permissions = [
        p["Properties"]
        for p in of_type(transformed, "AWS::Lambda::Permission").values()
        if p["Properties"].get("FunctionUrlAuthType") == "NONE"
        or p["Properties"]["Action"] == "lambda:InvokeFunctionUrl"
    ]

    assert alias["Properties"]["Name"] == "live"
    assert url["Properties"]["TargetFunctionArn"] == {"Ref": "SlackEventsFunctionAliaslive"}
    assert url_permissions
    assert all(
        p["FunctionName"] == {"Ref": "SlackEventsFunctionAliaslive"} for p in url_permissions
    )
    assert function["SnapStart"] == {
        "ApplyOn": {"Fn::If": ["SlackSnapStart", "PublishedVersions", "None"]}
    }
