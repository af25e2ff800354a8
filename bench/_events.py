"""Realistic first events for every function, filled in with live ids from a running sandbox.

Each function gets the environment the template gives it in the sandbox (tables, the Slack
secret's ARN, routes…); the events are tests/fixtures/bench_*.json with the sandbox's ids.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

from _sandbox import REPO, RunningSandbox

sys.path.insert(0, str(REPO))
from tests.support.signed import function_url_event, payload_body, signed_headers

FIXTURES = REPO / "tests" / "fixtures"


def base_env() -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class Events:
    """Fills the bench fixtures with live ids from the sandbox."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.ssm = sandbox.aws("ssm")
        functions = sandbox.aws("lambda").list_functions()["Functions"]
        self.functions = {f["Handler"].rsplit(".", 1)[0]: f for f in functions}
        any_env = functions[0]["Environment"]["Variables"]
        self.approval_document = sandbox.outputs["ApprovalDocumentName"]
        self.key_document = any_env.get("SIGNOFF_ACCESS_KEY_DOCUMENT", "Signoff-AccessKey")
        self.role = sandbox.role_arn("Level1ApproverRole")
        # Notices go to a topic nobody subscribed and the status rules are off: the sandbox's own
        # functions leave these executions alone, so each fresh process does the first-time work.
        sns = sandbox.aws("sns")
        self.topic = sns.create_topic(Name="Automation-bench-unsubscribed")["TopicArn"]
        self.key_requests: list[str] = []
        events = sandbox.aws("events")
        for rule in events.list_rules()["Rules"]:
            if "AutomationResult" in rule["Name"]:
                events.disable_rule(Name=rule["Name"])

    def env(
        self,
        module: str,
        aws_url: str | None = None,
        slack_api_url: str | None = None,
        ca_bundle: str | None = None,
    ) -> dict[str, str]:
        """The function's own variables and Lambda's, pointed at the sandbox (or at a proxy in
        front of it, `aws_url`/`slack_api_url`, whose CA `ca_bundle` the function trusts)."""
        function = self.functions[module]
        env = {
            **base_env(),
            **function["Environment"]["Variables"],
            "AWS_ENDPOINT_URL": aws_url or self.sandbox.aws_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": function["FunctionName"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.get("MemorySize", 256)),
        }
        env["SLACK_API_URL"] = slack_api_url or env.get(
            "SLACK_API_URL", f"{self.sandbox.slack_url}/api/"
        )
        # Files the package puts in /var/task (e.g. AWS_DATA_PATH's trimmed models, laid out by
        # `make package` or `make aws-models` under build/) are read from the working tree's
        # build/ here, so the function loads what it would load on Lambda.
        for name, value in list(env.items()):
            if value.startswith("/var/task/"):
                env[name] = str(REPO / "build" / value.removeprefix("/var/task/"))
        if ca_bundle:
            # Where each library looks: botocore (AWS_CA_BUNDLE), ssl's default context and so
            # slack_sdk (SSL_CERT_FILE), requests (REQUESTS_CA_BUNDLE).
            env.update(
                AWS_CA_BUNDLE=ca_bundle, SSL_CERT_FILE=ca_bundle, REQUESTS_CA_BUNDLE=ca_bundle
            )
        return env

    def waiting_approval(self) -> str:
        started = self.ssm.start_automation_execution(
            DocumentName=self.approval_document,
            Parameters={
                "Description": ["Cold start benchmark"],
                "Message": ["cold start"],
                "NotificationArn": [self.topic],
                "Approvers": [self.role],
            },
        )["AutomationExecutionId"]
        self.sandbox.settle()
        return str(started)

    def stop_waiting(self) -> None:
        pages = self.ssm.get_paginator("describe_automation_executions").paginate(
            Filters=[{"Key": "ExecutionStatus", "Values": ["Waiting"]}]
        )
        # All pages first: stopping shrinks the list the next page's token points into.
        waiting = [
            e["AutomationExecutionId"] for p in pages for e in p["AutomationExecutionMetadataList"]
        ]
        for execution_id in waiting:
            self.ssm.stop_automation_execution(AutomationExecutionId=execution_id)
        self.sandbox.settle()

    def make_key_history(self, count: int) -> None:
        """`count` finished key requests, made before the first round, so that every run of the
        reconciler lists as many in its key sweep; the issue_access_key row's runs use them,
        one each."""
        for _ in range(count):
            started = self.ssm.start_automation_execution(
                DocumentName=self.key_document,
                Parameters={
                    "IamUser": ["dave"],
                    "RequestReason": ["cold start benchmark"],
                    "RequesterSlackId": ["U0DAVE"],
                    "NotificationArn": [self.topic],
                },
            )
            self.key_requests.append(started["AutomationExecutionId"])
        self.sandbox.settle()
        self.stop_waiting()

    def fill(self, fixture: str, **values: str) -> Any:
        text = (FIXTURES / fixture).read_text()
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        return json.loads(text)

    def for_scenario(self, name: str, module: str) -> Any:
        """The event of one scenario (a handler's name, or a variant such as reconcile_steady)."""
        if name == "approval_notice":
            return self.fill(
                "bench_sns_approval_notice.json",
                execution_id=self.waiting_approval(),
                topic_arn=self.topic,
            )
        if name == "automation_result":
            return self.fill(
                "bench_eventbridge_approve_step_waiting.json",
                execution_id=self.waiting_approval(),
                document=self.approval_document,
                step="ApprovalAction",
            )
        if name in ("reconcile", "reconcile_steady"):
            # One waiting approval without a card, as after a lost notice (the pass posts it);
            # the earlier runs' approvals are stopped and tidied by the sandbox's own reconciler
            # first, so each measured run does the same work. Steady: the sandbox's reconciler
            # posts that card first, and the measured pass finds everything in order, as most
            # passes do (it reads, checks the waiting card against SSM, and calls no Slack).
            self.stop_waiting()
            self.reconcile_in_sandbox(module)
            self.waiting_approval()
            if name == "reconcile_steady":
                self.reconcile_in_sandbox(module)
            return self.fill("bench_schedule.json")
        if name == "start_approval":
            return self.fill(
                "bench_sfn_start_approval.json",
                nonce=uuid.uuid4().hex,
                document=self.approval_document,
                topic_arn=self.topic,
                approver_role=self.role,
            )
        if name == "issue_access_key":
            if not self.key_requests:
                raise SystemExit("no key request left for issue_access_key: make_key_history")
            # Stopped before anyone approved it: the issuer reads SSM, refuses, records it (no
            # key is made). One each run: the issuer is idempotent by execution.
            return self.fill("bench_issue_access_key.json", execution_id=self.key_requests.pop())
        if name == "slack_events":
            payload = self.fill(
                "bench_slack_decision_submission.json", execution_id=self.waiting_approval()
            )
            body = payload_body(payload)
            # The signing secret is the sandbox's, which the function reads from Secrets Manager.
            secret = json.loads(
                self.sandbox.aws("secretsmanager").get_secret_value(
                    SecretId=self.sandbox.outputs["SlackSecretArn"]
                )["SecretString"]
            )["signing_secret"]
            return function_url_event(body, signed_headers(body, secret))
        raise SystemExit(f"no benchmark event for {name}")

    def reconcile_in_sandbox(self, module: str) -> None:
        self.sandbox.aws("lambda").invoke(
            FunctionName=self.functions[module]["FunctionName"],
            Payload=json.dumps(self.fill("bench_schedule.json")),
        )
        self.sandbox.settle()


def compile_sources() -> None:
    """Bytecode for bot/ and handlers/, as `make package` ships it (Lambda's /var/task is
    read-only: without it every cold start would compile them; this machine may not write
    __pycache__ by itself, PYTHONDONTWRITEBYTECODE). Timestamp-checked, unlike the package's:
    these files sit in a working tree, and an edit must never run stale bytecode."""
    subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "timestamp"]
        + [str(REPO / source) for source in ("bot", "handlers")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
