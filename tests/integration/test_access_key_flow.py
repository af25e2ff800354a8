"""Flow C end to end: /request-key → card → approval in Slack → key in Secrets Manager → DM.

Everything runs through the real pieces: signed Slack requests into the Lambda adapter, the
SSM engine running the access-key runbook from infra/template.yaml, the issuer Lambda it
invokes, EventBridge to the result Lambda, and the Slack emulator as the Web API. Every test
ends by scanning what Slack saw, what was logged and what the issuer returned for the secret.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bot.views import (
    ACTION_APPROVE,
    ACTION_REJECT,
    KEY_REASON_ACTION,
    KEY_REASON_BLOCK,
    KEY_USER_ACTION,
    KEY_USER_BLOCK,
)
from tests.support.world import ACCOUNT, APPROVER_ROLE, World

KEY_DOCUMENT = "Signoff-AccessKey"  # the template's AccessKeyDocumentName
KEY_PATH = "/signoff-keys/"  # the deployment's KeyUserPath
SECRET_PREFIX = "signoff/access-keys/"  # the template's SecretPrefix
ISSUER = "signoff-issue-access-key"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SignoffKeyAdmin"
SECRET_NAME = re.compile(SECRET_PREFIX + r"dave/access-key-\d{8}T\d{6}Z")
CLI = "aws secretsmanager get-secret-value --secret-id '{}' --query SecretString --output text"


@dataclass
class Keys:
    """The world with flow C's parameters: key admins and approvers; dave's IAM user."""

    world: World

    def command(self, user: str, text: str = "") -> dict[str, Any]:
        reply = self.world.control(
            "POST",
            "command",
            json={"user": user, "channel": "approvals", "command": "/request-key", "text": text},
        )
        self.world.settle()
        return dict(reply)

    def submit_form(self, user: str, iam_user: str, reason: str) -> dict[str, Any]:
        modal = self.world.views(user)[-1]
        reply = self.world.control(
            "POST",
            "submit",
            json={
                "user": user,
                "view_id": modal["id"],
                "values": {
                    KEY_USER_BLOCK: {KEY_USER_ACTION: iam_user},
                    KEY_REASON_BLOCK: {KEY_REASON_ACTION: reason},
                },
            },
        )
        self.world.settle()
        return dict(reply)

    def executions(self) -> list[dict[str, Any]]:
        ssm = self.world.client("ssm")
        listed = ssm.describe_automation_executions(
            Filters=[{"Key": "DocumentNamePrefix", "Values": [KEY_DOCUMENT]}]
        )["AutomationExecutionMetadataList"]
        return [
            ssm.get_automation_execution(AutomationExecutionId=m["AutomationExecutionId"])[
                "AutomationExecution"
            ]
            for m in listed
        ]

    def execution(self) -> dict[str, Any]:
        [execution] = self.executions()
        return execution

    def dms(self, user: str) -> list[str]:
        return [m["text"] for m in self.world.messages(f"@{user}")]

    def drop_result_events(self) -> None:
        """EventBridge is best-effort: from now on, no status event of a key request arrives."""
        events = self.world.client("events")
        for rule in self.world.result_rules():
            targets = events.list_targets_by_rule(Rule=rule)["Targets"]
            events.remove_targets(Rule=rule, Ids=[t["Id"] for t in targets])

    def reconcile(self) -> dict[str, int]:
        answer = self.world.client("lambda").invoke(FunctionName="signoff-reconcile", Payload=b"{}")
        assert "FunctionError" not in answer, answer["Payload"].read()
        self.world.settle()
        return dict(json.loads(answer["Payload"].read()))

    def keys(self, user: str = "dave") -> list[str]:
        metadata = self.world.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
        return [k["AccessKeyId"] for k in metadata]

    def secrets(self) -> list[str]:
        """The keys' secrets (under the template's SecretPrefix; not the stack's Slack secret)."""
        listed = self.world.client("secretsmanager").list_secrets()["SecretList"]
        return [s["Name"] for s in listed if s["Name"].startswith(SECRET_PREFIX)]

    def secret_keys(self) -> list[str]:
        """Every secret access key Secrets Manager holds: what must appear nowhere else."""
        sm = self.world.client("secretsmanager")
        values = [
            json.loads(sm.get_secret_value(SecretId=n)["SecretString"]) for n in self.secrets()
        ]
        return [v["SecretAccessKey"] for v in values]


@pytest.fixture
def world_parameters() -> dict[str, str]:
    return {
        "Admins": "U0CAROL",
        "KeyAdminRoleArn": ADMIN_ROLE,
        # The access-key document's fixed approvers.
        "KeyApprovers": APPROVER_ROLE,
        "KeyUserPath": KEY_PATH,
    }


@pytest.fixture
def keys(world: World) -> Keys:
    iam = world.client("iam")
    for user in ("dave", "erin"):
        iam.create_user(UserName=user, Path=KEY_PATH)
    world.map_user("U0ALICE", "alice")
    world.map_user("U0DAVE", "dave", iam_user="dave")  # an approver too: he may not approve his own
    world.map_user("U0CAROL", "carol")
    return Keys(world)


@pytest.fixture(autouse=True)
def _every_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


@pytest.fixture
def no_secret_anywhere(
    keys: Keys, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> Iterator[None]:
    """After the test: no secret key in Slack traffic, logs, outputs, tables or return values."""
    yield
    secrets = keys.secret_keys()
    world = keys.world
    ssm = world.client("ssm")
    dynamodb = world.client("dynamodb")
    seen = {
        "slack api calls": world.control("GET", "calls"),
        "requests to the bot": world.control("GET", "interactions"),
        "ssm executions and step outputs": [
            (
                e,
                ssm.describe_automation_step_executions(
                    AutomationExecutionId=e["AutomationExecutionId"]
                ),
            )
            for e in keys.executions()
        ],
        "tables": [
            dynamodb.scan(TableName=t)["Items"]
            for t in map(world.table, ("approvals", "audit", "idempotency"))
        ],
        "log records": [r.getMessage() + repr(r.__dict__) for r in caplog.records],
        "stdout and stderr": capfd.readouterr(),
    }
    for where, what in seen.items():
        text = json.dumps(what, default=str)
        for secret in secrets:
            assert secret not in text, f"a secret access key leaked into {where}"
    assert caplog.records, "the scan saw no log records at all"


pytestmark = pytest.mark.usefixtures("no_secret_anywhere")


def test_a_key_requested_by_command_and_approved_lands_in_a_secret_and_a_dm(keys: Keys) -> None:
    reply = keys.command("dave", "dave CI deploy key")
    assert reply["status"] == 200
    [answer] = keys.world.ephemeral("dave")
    assert "Requested an access key for IAM user `dave`" in answer

    card = keys.world.card_text()
    assert "<@U0DAVE>" in card and "`dave`" in card and "CI deploy key" in card
    keys.world.decide("alice", ACTION_APPROVE, comment="ok for CI")

    execution = keys.execution()
    assert execution["AutomationExecutionStatus"] == "Success"
    [name] = keys.secrets()
    assert SECRET_NAME.fullmatch(name)
    assert len(keys.keys()) == 1
    [dm] = [t for t in keys.dms("dave") if ":key:" in t]
    assert name in dm and CLI.format(name) in dm
    thread = keys.world.thread()
    assert any(name in t and "<@U0DAVE>" in t for t in thread)
    assert not any("get-secret-value" in t for t in thread)
    tags = {
        t["Key"]: t["Value"]
        for t in keys.world.client("secretsmanager").describe_secret(SecretId=name)["Tags"]
    }
    assert tags["signoff:requester"] == "U0DAVE"
    assert (
        tags["signoff:approvers"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/SignoffApprover/U0ALICE"
    )
    assert tags["signoff:execution-id"] == execution["AutomationExecutionId"]
    # What the issuer returned to SSM: the secret's name, the user, a status. No key, no key id.
    [issue] = [s for s in execution["StepExecutions"] if s["StepName"] == "IssueKey"]
    report = json.loads(issue["Outputs"]["Payload"][0])
    assert report == {"status": "issued", "iam_user": "dave", "secret_name": name}
    events = [row["event"] for row in keys.world.audit(execution["AutomationExecutionId"])]
    assert {"access_key_requested", "access_key_issued", "access_key_outcome"} <= set(events)


def test_a_key_requested_through_the_form(keys: Keys) -> None:
    opened = keys.command("dave")
    assert opened["view"]["callback_id"] == "key_request"

    submitted = keys.submit_form("dave", "dave", "laptop\nrebuild")
    assert submitted["errors"] in ({}, None), submitted
    assert "Requested an access key" in json.dumps(submitted["view"])
    assert keys.execution()["Parameters"]["RequestReason"] == ["laptop\nrebuild"]  # as typed

    keys.world.decide("alice", ACTION_APPROVE)
    [name] = keys.secrets()
    assert any(CLI.format(name) in t for t in keys.dms("dave"))


def test_the_form_opens_with_the_requesters_own_iam_user_filled_in(keys: Keys) -> None:
    opened = keys.command("dave")
    [field] = [b for b in opened["view"]["blocks"] if b.get("block_id") == KEY_USER_BLOCK]
    assert field["element"]["initial_value"] == "dave"

    # Left as it opened, the field sends the IAM user it was filled with.
    modal = keys.world.views("dave")[-1]
    submitted = keys.world.control(
        "POST",
        "submit",
        json={
            "user": "dave",
            "view_id": modal["id"],
            "values": {KEY_REASON_BLOCK: {KEY_REASON_ACTION: "laptop rebuild"}},
        },
    )
    keys.world.settle()
    assert submitted["errors"] in ({}, None), submitted
    assert keys.execution()["Parameters"]["IamUser"] == ["dave"]


def test_the_form_of_someone_with_no_iam_user_opens_empty(keys: Keys) -> None:
    opened = keys.command("alice")  # mapped to an approver role only
    [field] = [b for b in opened["view"]["blocks"] if b.get("block_id") == KEY_USER_BLOCK]
    assert "initial_value" not in field["element"]


def test_the_form_shows_refusals_under_their_field_and_starts_nothing(keys: Keys) -> None:
    keys.command("dave")
    bad_name = keys.submit_form("dave", "not a name", "reason")
    assert KEY_USER_BLOCK in bad_name["errors"]
    someone_else = keys.submit_form("dave", "erin", "reason")
    assert "only for your own IAM user" in someone_else["errors"][KEY_USER_BLOCK]
    no_reason = keys.submit_form("dave", "dave", "   ")
    assert KEY_REASON_BLOCK in no_reason["errors"]
    assert keys.executions() == []


def test_a_rejected_request_dms_the_reason_and_issues_nothing(keys: Keys) -> None:
    keys.command("dave", "dave need it")
    keys.world.decide("alice", ACTION_REJECT, comment="Use SSO instead")

    assert keys.execution()["AutomationExecutionStatus"] == "Failed"
    assert keys.keys() == [] and keys.secrets() == []
    [dm] = [t for t in keys.dms("dave") if "rejected" in t]
    assert "rejected by <@U0ALICE>: Use SSO instead" in dm
    assert sum("rejected by <@U0ALICE>" in t for t in keys.world.thread()) == 1


def test_a_user_with_two_keys_is_refused_at_once_privately_and_nothing_starts(keys: Keys) -> None:
    iam = keys.world.client("iam")
    iam.create_access_key(UserName="dave")
    iam.create_access_key(UserName="dave")
    keys.command("dave", "dave one more")

    [answer] = keys.world.ephemeral("dave")
    assert answer.startswith(":no_entry: No request started: IAM user `dave` already has 2")
    assert "Delete one" in answer
    assert keys.executions() == []
    assert not [m for m in keys.world.messages() if m.get("blocks")], "no card was posted"
    assert len(keys.keys()) == 2 and keys.secrets() == []


def test_the_form_refuses_a_user_with_two_keys_under_the_name_field(keys: Keys) -> None:
    iam = keys.world.client("iam")
    iam.create_access_key(UserName="dave")
    iam.create_access_key(UserName="dave")
    keys.command("dave")
    refused = keys.submit_form("dave", "dave", "one more")
    assert "already has 2 access keys" in refused["errors"][KEY_USER_BLOCK]
    assert keys.executions() == []


def test_keys_made_while_a_request_waits_count_at_issue_and_the_card_says_no_key(
    keys: Keys,
) -> None:
    keys.command("dave", "dave one more")
    iam = keys.world.client("iam")
    iam.create_access_key(UserName="dave")  # made elsewhere while the approvers think
    iam.create_access_key(UserName="dave")
    keys.world.decide("alice", ACTION_APPROVE)

    assert len(keys.keys()) == 2 and keys.secrets() == []
    assert any("already has 2 access keys" in t for t in keys.dms("dave"))
    card = keys.world.card_text()
    assert "No access key was created" in card and "already has 2 access keys" in card
    assert "Approved" in card  # who approved stays on the card, next to what came of it


def test_an_unknown_iam_user_is_refused_at_once(keys: Keys) -> None:
    keys.command("carol", "ghost rotation")  # carol is an admin: any user, if it exists
    [answer] = keys.world.ephemeral("carol")
    # The template lets the bot read users under KeyUserPath only: IAM refuses a missing one
    # as it refuses one outside (the finer messages are tests/unit/test_access_keys.py's).
    assert "IAM user `ghost` is not under `/signoff-keys/` (or does not exist)" in answer
    assert keys.executions() == []
    keys.command("carol", "erin rotation")
    assert keys.execution()["Parameters"]["IamUser"] == ["erin"]


def test_a_second_request_while_one_waits_is_refused(keys: Keys) -> None:
    keys.command("dave", "dave first")
    keys.command("carol", "dave second")
    [refusal] = keys.world.ephemeral("carol")
    assert refusal.startswith(":no_entry: No request started: A request for `dave`")
    assert len(keys.executions()) == 1


def test_the_requester_cannot_approve_their_own_request(keys: Keys) -> None:
    keys.command("dave", "dave my own")
    keys.world.click("dave", ACTION_APPROVE)

    refusals = keys.world.ephemeral("dave")
    assert any("someone else has to approve it" in t for t in refusals)
    # The decision form he opened has turned into the refusal: there is nothing to submit.
    on_screen = keys.world.views("dave")[-1]
    assert "someone else has to approve it" in json.dumps(on_screen["blocks"])
    assert not on_screen.get("submit")
    execution = keys.execution()
    assert execution["AutomationExecutionStatus"] == "Waiting"
    [approve] = [s for s in execution["StepExecutions"] if s["StepName"] == "ApproveKey"]
    assert not approve.get("Outputs", {}).get("ApproverDecisions")
    assert keys.keys() == []


def test_a_retried_invocation_creates_no_second_key(keys: Keys) -> None:
    keys.command("dave", "dave CI")
    keys.world.decide("alice", ACTION_APPROVE)
    execution = keys.execution()
    [issue] = [s for s in execution["StepExecutions"] if s["StepName"] == "IssueKey"]

    # What SSM (or Lambda's own retry) would send again.
    payload = json.dumps(
        {
            "execution_id": execution["AutomationExecutionId"],
            "iam_user": "dave",
            "requester": "U0DAVE",
            "reason": "CI",
        }
    )
    again = keys.world.client("lambda").invoke(FunctionName=ISSUER, Payload=payload)
    assert json.loads(again["Payload"].read()) == json.loads(issue["Outputs"]["Payload"][0])
    assert len(keys.keys()) == 1 and len(keys.secrets()) == 1
    assert sum(":key:" in t for t in keys.dms("dave")) == 1
    # Powertools answered the retry from its record, keyed on the execution id.
    records = keys.world.client("dynamodb").scan(TableName=keys.world.table("idempotency"))["Items"]
    [record] = [r for r in records if "KeyIssuer.issue#" in r["id"]["S"]]
    assert record["status"]["S"] == "COMPLETED"


def test_a_request_nobody_decides_times_out_and_says_so(
    keys: Keys, advance_clock: Callable[[float], None]
) -> None:
    keys.command("dave", "dave CI")
    advance_clock(86400 + 1)  # the runbook's approval timeout
    keys.world.settle()

    assert keys.execution()["AutomationExecutionStatus"] == "TimedOut"
    assert keys.keys() == []
    assert any("before it timed out" in t for t in keys.dms("dave"))


def test_the_form_refuses_a_user_outside_the_key_path_naming_it_and_the_path(keys: Keys) -> None:
    keys.world.client("iam").create_user(UserName="frank", Path="/humans/")
    keys.command("carol")  # an admin: any IAM user Signoff may issue keys for
    refused = keys.submit_form("carol", "frank", "rotation")
    error = refused["errors"][KEY_USER_BLOCK]
    # IAM refuses the bot's role a user outside KeyUserPath (the template's policy).
    assert error.startswith("IAM user `frank` is not under `/signoff-keys/` (or does not exist)")
    assert "only IAM users under that path can get keys from Signoff" in error
    assert "AWS refused" not in error
    assert keys.executions() == []


def test_the_command_refuses_a_user_outside_the_key_path_in_plain_words(keys: Keys) -> None:
    keys.world.client("iam").create_user(UserName="frank", Path="/humans/")
    keys.command("carol", "frank rotation")
    [answer] = keys.world.ephemeral("carol")
    assert answer.startswith(
        ":no_entry: No request started: IAM user `frank` is not under `/signoff-keys/` (or does "
        "not exist); only IAM users under that path can get keys from Signoff. Check the name, "
        "ask an admin to move the user"
    )
    assert keys.executions() == []


def test_the_form_says_under_the_name_field_that_a_user_does_not_exist(keys: Keys) -> None:
    keys.command("carol")
    refused = keys.submit_form("carol", "ghost", "rotation")
    [error] = refused["errors"].values()
    assert error.startswith("IAM user `ghost` is not under `/signoff-keys/` (or does not exist)")
    assert "Check the name" in error
    assert keys.executions() == []


def test_a_user_moved_out_of_the_key_path_after_the_request_gets_no_key(keys: Keys) -> None:
    keys.command("dave", "dave CI")
    keys.world.client("iam").update_user(UserName="dave", NewPath="/humans/")
    keys.world.decide("alice", ACTION_APPROVE)

    assert keys.keys() == [] and keys.secrets() == []
    [dm] = [t for t in keys.dms("dave") if "No access key was created" in t]
    assert "`dave` is no longer under the IAM path Signoff may issue keys for" in dm
    assert "AWS refused" not in dm


def test_an_outcome_whose_event_was_lost_is_dmed_by_the_reconciler_once(keys: Keys) -> None:
    keys.command("dave", "dave CI deploy key")
    keys.drop_result_events()
    keys.world.decide("alice", ACTION_APPROVE)
    [name] = keys.secrets()
    assert not any(":key:" in t for t in keys.dms("dave"))  # the event that tells it was lost

    first, second = keys.reconcile(), keys.reconcile()

    assert (first["key_checked"], first["key_told"], first["key_failed"]) == (1, 1, 0)
    assert second["key_checked"] == 0 and second["failed_reconcilers"] == 0
    [dm] = [t for t in keys.dms("dave") if ":key:" in t]
    assert CLI.format(name) in dm
    assert sum(name in t for t in keys.world.thread()) == 1
    execution_id = keys.execution()["AutomationExecutionId"]
    events = [row["event"] for row in keys.world.audit(execution_id)]
    assert events.count("access_key_outcome") == 1

    # The lost event turns up after all: it finds everything said.
    late = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "EC2 Automation Execution Status-change Notification",
        "source": "aws.ssm",
        "account": ACCOUNT,
        "time": "2026-11-23T10:15:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"ExecutionId": execution_id, "Definition": KEY_DOCUMENT, "Status": "Success"},
    }
    keys.world.client("lambda").invoke(
        FunctionName="signoff-automation-result", Payload=json.dumps(late).encode()
    )
    keys.world.settle()
    assert sum(":key:" in t for t in keys.dms("dave")) == 1
    assert sum(name in t for t in keys.world.thread()) == 1


def test_a_rejection_whose_event_was_lost_is_dmed_by_the_reconciler(keys: Keys) -> None:
    keys.command("dave", "dave need it")
    keys.drop_result_events()
    keys.world.decide("alice", ACTION_REJECT, comment="Use SSO instead")
    assert not any("rejected" in t for t in keys.dms("dave"))

    keys.reconcile()
    keys.reconcile()

    [dm] = [t for t in keys.dms("dave") if "rejected" in t]
    assert "rejected by <@U0ALICE>: Use SSO instead" in dm


# -- who may start the key runbook: anyone with ssm:StartAutomationExecution. It must not matter.


def _start_as(session: Any, **parameters: list[str]) -> str:
    ssm = session.client("ssm", region_name="us-east-1")
    started = ssm.start_automation_execution(DocumentName=KEY_DOCUMENT, Parameters=parameters)
    return str(started["AutomationExecutionId"])


def test_whoever_starts_the_runbook_cannot_name_its_approvers(
    keys: Keys, user_session: Callable[[str], Any]
) -> None:
    # The review's repro: any IAM user starts the runbook for dave, naming themself approver
    # (then approves it: before the fix, that issued dave a key).
    mallory = user_session("mallory")
    with pytest.raises(ClientError) as refused:
        _start_as(
            mallory,
            IamUser=["dave"],
            RequesterSlackId=["U0DAVE"],
            RequestReason=["need it"],
            Approvers=[f"arn:aws:iam::{ACCOUNT}:user/mallory"],
            MinRequiredApprovals=["1"],
            AutomationAssumeRole=[f"arn:aws:iam::{ACCOUNT}:role/MalloryRunbooks"],
        )
    keys.world.settle()
    assert (
        refused.value.response["Error"]["Code"] == "InvalidAutomationExecutionParametersException"
    )
    assert "Approvers" in str(refused.value)
    assert keys.keys() == [] and keys.secrets() == []


def test_a_runbook_signoff_did_not_start_gets_no_key_even_when_approved(
    keys: Keys, user_session: Callable[[str], Any], caplog: pytest.LogCaptureFixture
) -> None:
    # The approvers are fixed now, but a real approver may approve a run Signoff never started
    # (it looks like any other card): no recorded request, no key.
    execution_id = _start_as(
        user_session("mallory"),
        IamUser=["dave"],
        RequesterSlackId=["U0DAVE"],
        RequestReason=["need it"],
        RequestId=["5f0c6b1e-3d7a-4c2b-9e8f-1a2b3c4d5e6f"],
    )
    keys.world.settle()
    keys.world.decide("alice", ACTION_APPROVE)

    assert keys.keys() == [] and keys.secrets() == []
    [execution] = keys.executions()
    [issue] = [s for s in execution["StepExecutions"] if s["StepName"] == "IssueKey"]
    report = json.loads(issue["Outputs"]["Payload"][0])
    assert report == {"status": "not_recorded", "iam_user": "dave"}
    assert any(
        "not a request Signoff started" in r.getMessage() and execution_id in repr(r.__dict__)
        for r in caplog.records
    )
    [dm] = [t for t in keys.dms("dave") if "No access key was created" in t]
    assert "Signoff did not start this request" in dm
    assert "No access key was created" in keys.world.card_text()


def test_a_copy_of_a_real_request_started_by_someone_else_gets_no_key(
    keys: Keys, user_session: Callable[[str], Any]
) -> None:
    keys.command("dave", "dave CI")
    [real] = keys.executions()
    # Everything the real run carries is readable by anyone with ssm:GetAutomationExecution.
    copy = _start_as(user_session("mallory"), **real["Parameters"])
    keys.world.settle()
    keys.world.decide("alice", ACTION_APPROVE, about=copy)

    assert keys.keys() == [] and keys.secrets() == []
    [copied] = [e for e in keys.executions() if e["AutomationExecutionId"] == copy]
    [issue] = [s for s in copied["StepExecutions"] if s["StepName"] == "IssueKey"]
    assert json.loads(issue["Outputs"]["Payload"][0])["status"] == "not_recorded"


def test_a_reason_with_quotes_backslashes_and_line_breaks_reaches_the_issuer_intact(
    keys: Keys,
) -> None:
    reason = 'rotate "ci" key\nfor C:\\deploy\\keys\n\tsecond line'
    keys.command("dave")
    submitted = keys.submit_form("dave", "dave", reason)
    assert submitted["errors"] in ({}, None), submitted
    assert keys.execution()["Parameters"]["RequestReason"] == [reason]

    keys.world.decide("alice", ACTION_APPROVE)

    [name] = keys.secrets()
    execution_id = keys.execution()["AutomationExecutionId"]
    [issued] = [e for e in keys.world.audit(execution_id) if e["event"] == "access_key_issued"]
    assert issued["reason"] == reason  # as the issuer received it from the runbook
    assert any(CLI.format(name) in t for t in keys.dms("dave"))
