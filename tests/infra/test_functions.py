"""Every Lambda in the template runs Signoff's own handler with the settings it needs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from sandbox.template import function_environment, functions, resolver

HANDLERS_DIR = Path(__file__).resolve().parents[2] / "handlers"
EXPECTED = {
    "SlackEventsFunction": "handlers.slack_events.lambda_handler",
    "ApprovalNoticeFunction": "handlers.approval_notice.lambda_handler",
    "AutomationResultFunction": "handlers.automation_result.lambda_handler",
    "ReconcileFunction": "handlers.reconcile.lambda_handler",
    "StartApprovalFunction": "handlers.start_approval.lambda_handler",
    "IssueAccessKeyFunction": "handlers.issue_access_key.lambda_handler",
}
# Invoked asynchronously (Function URL lazy listeners, SNS, EventBridge, the schedule): these need
# an on-failure destination. The other two are invoked synchronously (Step Functions, SSM).
ASYNC = {
    "SlackEventsFunction",
    "ApprovalNoticeFunction",
    "AutomationResultFunction",
    "ReconcileFunction",
}


def test_the_template_deploys_exactly_the_handler_modules(template: dict[str, Any]) -> None:
    handlers = {fid: f["Handler"] for fid, f in functions(template).items()}
    modules = {p.stem for p in HANDLERS_DIR.glob("*.py") if p.stem != "__init__"}

    assert handlers == EXPECTED
    assert {h.split(".")[1] for h in handlers.values()} == modules


@pytest.mark.parametrize("handler", sorted(EXPECTED.values()))
def test_each_handler_resolves_to_a_callable_lambda_handler(handler: str) -> None:
    module_name, attribute = handler.rsplit(".", 1)
    module = importlib.import_module(module_name)

    assert callable(getattr(module, attribute, None)), f"{handler} is not callable"


# In a fresh interpreter: whether the collector is on once the handler is imported. (What the
# pause saves, and that no collection runs during the import, is bench/import_gc.py's to show.)
GC_PROBE = """
import gc, sys
if sys.argv[2] == "off":
    gc.disable()
__import__(sys.argv[1])
print(gc.isenabled())
"""


def collector_on_after_import(module: str, gc_before: str) -> bool:
    done = subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, "-c", GC_PROBE, module, gc_before],
        capture_output=True,
        text=True,
        check=True,
        cwd=HANDLERS_DIR.parent,
    )
    return done.stdout.strip().splitlines()[-1] == "True"


def test_a_handler_resumes_the_collector_it_paused() -> None:
    assert collector_on_after_import("handlers.reconcile", gc_before="on") is True


def test_a_handler_leaves_a_collector_it_found_off_off() -> None:
    assert collector_on_after_import("handlers.reconcile", gc_before="off") is False


# What bench/lambda_cpu.py chose (docs/performance.md): a person waits on these three.
MEMORY_FOR_LATENCY = {
    "SlackEventsFunction": 1024,
    "ApprovalNoticeFunction": 512,
    "AutomationResultFunction": 512,
}


def test_functions_run_python_312_or_newer_with_the_memory_the_bench_chose(
    template: dict[str, Any],
) -> None:
    for logical_id, function in functions(template).items():
        major, minor = function["Runtime"].removeprefix("python").split(".")
        assert (int(major), int(minor)) >= (3, 12), logical_id
        # The rest have no one waiting on a cold start: the cheapest setting.
        assert function["MemorySize"] == MEMORY_FOR_LATENCY.get(logical_id, 256), logical_id
        # A Step Functions or SSM step never needs Lambda's 15 minutes; the seed asked for them.
        assert 10 <= function["Timeout"] <= 300, logical_id


def test_the_reconciler_finishes_before_its_next_run(template: dict[str, Any]) -> None:
    reconcile = functions(template)["ReconcileFunction"]
    schedule = reconcile["Events"]["EveryFiveMinutes"]["Properties"]["Schedule"]

    assert schedule == "rate(5 minutes)"
    assert reconcile["Timeout"] < 300


@pytest.mark.parametrize("logical_id", sorted(EXPECTED))
def test_every_function_gets_settings_that_bot_config_accepts(
    template: dict[str, Any], logical_id: str
) -> None:
    env = function_environment(template, logical_id, parameters={"Level2Channel": "C0LEVEL2"})

    settings = Settings.from_env({**env, "AWS_REGION": "eu-west-1"})

    assert env["POWERTOOLS_SERVICE_NAME"] == "signoff"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert settings.approvals_table == "ApprovalsTable"
    assert settings.audit_table == "AuditTable"
    assert settings.identities_table == "IdentitiesTable"
    assert settings.idempotency_table == "IdempotencyTable"
    assert settings.slack_secret_arn == "SlackSecret"
    assert settings.approval_document == "Signoff-Approval"
    assert settings.access_key_document == "Signoff-AccessKey"
    assert settings.access_key_secret_prefix == "signoff/access-keys/"
    assert settings.reminder_before.total_seconds() == 3600
    assert "SIGNOFF_ADMINS" in env
    assert "SIGNOFF_KEY_ADMIN_ROLE_ARN" in env


def test_channel_routes_send_each_topic_to_its_channel_or_the_default(
    template: dict[str, Any],
) -> None:
    env = function_environment(
        template,
        "ApprovalNoticeFunction",
        parameters={
            "DefaultChannel": "C0DEFAULT",
            "Level2Channel": "C0TWO",
            "KeyRequestChannel": "C0KEYS",
        },
        pseudo={"AWS::StackName": "prod"},
    )
    settings = Settings.from_env({**env, "AWS_REGION": "eu-west-1"})
    topic = "arn:aws:sns:eu-west-1:123456789012:Automation-prod-{}"

    assert json.loads(env["SIGNOFF_CHANNEL_ROUTES"])  # valid JSON object
    assert settings.channel_for(topic.format("Level1")) == "C0DEFAULT"
    assert settings.channel_for(topic.format("Level2")) == "C0TWO"
    assert settings.channel_for(topic.format("AccessKey")) == "C0KEYS"
    assert settings.channel_for(None, "Signoff-AccessKey") == "C0KEYS"
    assert settings.channel_for(topic.format("SomethingElse")) == "C0DEFAULT"


def test_topic_names_in_the_routes_are_the_topics_the_template_creates(
    template: dict[str, Any],
) -> None:
    resolve = resolver(template, {"LevelCount": 5})
    routes = json.loads(
        function_environment(template, "ApprovalNoticeFunction")["SIGNOFF_CHANNEL_ROUTES"]
    )
    topics = {
        resolve.resolve(r["Properties"]["TopicName"])
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SNS::Topic"
    }

    assert topics <= set(routes)
    assert all(name.startswith("Automation") for name in topics)


def test_async_functions_retry_then_land_in_the_encrypted_queue(template: dict[str, Any]) -> None:
    queue = template["Resources"]["DeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True

    for logical_id, function in functions(template).items():
        config = function.get("EventInvokeConfig")
        if logical_id not in ASYNC:
            assert config is None, logical_id
            continue
        assert config["MaximumRetryAttempts"] in {0, 1, 2}, logical_id
        on_failure = config["DestinationConfig"]["OnFailure"]
        assert on_failure == {
            "Type": "SQS",
            "Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        }, logical_id


def test_the_slack_function_has_a_public_url_and_an_explicit_name(template: dict[str, Any]) -> None:
    slack = functions(template)["SlackEventsFunction"]

    assert slack["FunctionUrlConfig"] == {"AuthType": "NONE"}
    assert resolver(template).resolve(slack["FunctionName"]) == "signoff-slack-events"


def test_tracing_follows_the_enable_tracing_parameter(template: dict[str, Any]) -> None:
    tracing = template["Globals"]["Function"]["Tracing"]

    assert resolver(template, {"EnableTracing": "true"}).resolve(tracing) == "Active"
    assert resolver(template, {"EnableTracing": "false"}).resolve(tracing) == "PassThrough"


def test_the_slack_function_is_pinned_to_the_workspace_the_deployer_names(
    template: dict[str, Any],
) -> None:
    # Required: a deploy without it would act on requests from every workspace with the app.
    assert "Default" not in template["Parameters"]["SlackTeamId"]
    env = function_environment(
        template,
        "SlackEventsFunction",
        parameters={"SlackTeamId": "T0PROD", "SlackAppId": "A0PROD"},
    )

    settings = Settings.from_env({**env, "AWS_REGION": "eu-west-1"})

    assert settings.require_workspace() == "T0PROD"
    assert settings.slack_app_id == "A0PROD"
