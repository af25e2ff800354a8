"""Flow C's rules: who may request a key, starting the runbook once, telling the outcome once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from msgspec.structs import replace

from bot import views
from bot.access_key_models import KeyRequest, OutcomeKind, RecordedKeyRequest
from bot.access_keys import (
    BadIamUserName,
    IamUserOutOfReach,
    KeyLimitReached,
    KeyRequestPending,
    KeyRequestService,
    NoIamUserMapped,
    NotYourIamUser,
    ReasonMissing,
    UnknownIamUser,
    read_command,
)
from bot.errors import TransientError
from bot.gateways.iam import AccessKeyGateway
from bot.gateways.key_requests import KeyRequestRecords
from bot.gateways.runs import RunSummary, StepSummary
from bot.gateways.slack import reply_key
from bot.gateways.tables import ApprovalStore, AuditLog, IdentityStore
from bot.models import Approval, CardRef, Decision, Identity, Outcome, Verdict
from tests.support.dynamo import signoff_tables
from tests.support.fakes import FakeAutomation, FakeRuns, FakeSlack

REGION = "us-east-1"
ACCT = "123456789012"
DOC = "Signoff-AccessKey"
ADMIN = "U0ADMIN"
KEY_PATH = "/signoff-keys/"  # the deployment's KeyUserPath
BOB = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0BOB"
APPROVER_ROLE = f"arn:aws:iam::{ACCT}:role/SignoffApprover"
# Carol is mapped to SignoffApprover: a session of another role merely named U0CAROL is not her.
CAROL_ELSEWHERE = f"arn:aws:sts::{ACCT}:assumed-role/SomeOtherRole/U0CAROL"


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


class Env:
    def __init__(self) -> None:
        session = boto3.Session(region_name=REGION)
        tables = signoff_tables(session.client("dynamodb"))
        self.iam = session.client("iam")
        for user in ("dave", "erin"):
            self.iam.create_user(UserName=user, Path=KEY_PATH)
        self.clock = Clock()
        self.automation = FakeAutomation()
        self.runs = FakeRuns()
        self.slack = FakeSlack()
        self.identities = IdentityStore(tables["identities"])
        self.identities.put(Identity("U0DAVE", "dave", iam_user="dave"))
        for user in ("BOB", "CAROL"):
            self.identities.put(Identity(f"U0{user}", user.lower(), role_arn=APPROVER_ROLE))
        self.store = ApprovalStore(tables["approvals"], self.clock)
        self.audit = AuditLog(tables["audit"], self.clock)
        self.records = KeyRequestRecords(tables["approvals"], self.clock)
        self.service = KeyRequestService(
            document=DOC,
            admins={ADMIN},
            automation=self.automation,  # type: ignore[arg-type]
            runs=self.runs,  # type: ignore[arg-type]
            key_user_path=KEY_PATH,
            keys=AccessKeyGateway(self.iam, session.client("secretsmanager")),
            identities=self.identities,
            store=self.store,
            records=self.records,
            audit=self.audit,
            slack=self.slack,  # type: ignore[arg-type]
            now=self.clock,
        )

    def finished_run(
        self,
        status: str = "Success",
        payload: dict[str, Any] | str | None = None,
        ended_ago: timedelta = timedelta(minutes=1),
        **kw: Any,
    ) -> str:
        execution_id = str(uuid.uuid4())
        self.runs.ended[execution_id] = self.clock.at - ended_ago
        steps = [StepSummary("ApproveKey", "aws:approve", "Success")]
        if payload is not None:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            steps.append(
                StepSummary("IssueKey", "aws:invokeLambdaFunction", "Success", {"Payload": (text,)})
            )
        self.runs.runs[execution_id] = RunSummary(
            execution_id=execution_id,
            document_name=kw.pop("document", DOC),
            status=status,
            parameters={
                "IamUser": ("dave",),
                "RequesterSlackId": ("U0DAVE",),
                "RequestReason": ("CI",),
            },
            steps=tuple(steps),
            **kw,
        )
        return execution_id

    def approval(self, execution_id: str, outcome: Outcome, *decisions: Decision) -> None:
        self.automation.approvals[execution_id] = Approval(
            execution_id=execution_id,
            step_name="ApproveKey",
            document_name=DOC,
            region=REGION,
            outcome=outcome,
            approvers=(f"arn:aws:iam::{ACCT}:role/SignoffApprover",),
            min_required=1,
            decisions=decisions,
        )


@pytest.fixture
def env() -> Iterator[Env]:
    with mock_aws():
        yield Env()


# -- requesting ------------------------------------------------------------------------------


def test_a_mapped_user_requests_a_key_for_their_own_iam_user(env: Env) -> None:
    request = env.service.request("U0DAVE", " dave ", "  CI deploy key ")

    [(document, parameters)] = env.automation.started
    assert document == DOC
    [request_id] = parameters.pop("RequestId")
    assert parameters == {
        "IamUser": ["dave"],
        "RequestReason": ["CI deploy key"],
        "RequesterSlackId": ["U0DAVE"],
    }
    assert request == KeyRequest("U0DAVE", "dave", "CI deploy key", request.execution_id)
    # Recorded before the start, bound to the execution after: what the issuer checks.
    assert env.records.get(request_id) == RecordedKeyRequest(
        request_id, "U0DAVE", "dave", "CI deploy key", request.execution_id
    )
    [row] = env.audit.events(str(request.execution_id))
    assert row["event"] == "access_key_requested" and row["requester"] == "U0DAVE"


def test_a_non_admin_may_not_ask_for_someone_elses_user(env: Env) -> None:
    with pytest.raises(NotYourIamUser, match="`dave`"):
        env.service.request("U0DAVE", "erin", "need it")
    assert env.automation.started == []


def test_an_unmapped_person_is_told_how_to_get_mapped(env: Env) -> None:
    with pytest.raises(NoIamUserMapped, match="signoff users map U0NOBODY --iam-user"):
        env.service.request("U0NOBODY", "dave", "need it")
    assert env.automation.started == []


def test_an_admin_may_ask_for_anyone_but_not_for_a_user_iam_does_not_know(env: Env) -> None:
    env.service.request(ADMIN, "erin", "rotation")
    assert env.automation.started[0][1]["IamUser"] == ["erin"]
    with pytest.raises(UnknownIamUser, match="`ghost`"):
        env.service.request(ADMIN, "ghost", "rotation")
    assert len(env.automation.started) == 1


def test_an_unknown_user_is_refused_on_the_name_field(env: Env) -> None:
    with pytest.raises(UnknownIamUser) as refused:
        env.service.request(ADMIN, "ghost", "rotation")
    assert str(refused.value) == "There is no IAM user `ghost` in this account; check the name."
    assert refused.value.field == "iam_user"
    assert env.automation.started == []


def test_a_user_iam_keeps_from_signoff_is_refused_naming_the_user_and_the_path(env: Env) -> None:
    # The template grants iam:GetUser on users under KeyUserPath only: IAM says AccessDenied.
    denied = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "GetUser"
    )
    with (
        patch.object(env.iam, "get_user", side_effect=denied),
        pytest.raises(IamUserOutOfReach) as refused,
    ):
        env.service.request("U0DAVE", "dave", "CI")
    message = str(refused.value)
    assert message.startswith("IAM user `dave` is not under `/signoff-keys/` (or does not exist)")
    assert "only IAM users under that path can get keys from Signoff" in message
    assert "AWS refused" not in message and "AccessDenied" not in message
    assert refused.value.field == "iam_user"
    assert env.automation.started == []


def test_a_user_outside_the_key_path_is_refused_with_how_to_move_it(env: Env) -> None:
    env.iam.create_user(UserName="frank", Path="/humans/")
    with pytest.raises(IamUserOutOfReach) as refused:
        env.service.request(ADMIN, "frank", "rotation")
    assert str(refused.value) == (
        "IAM user `frank` is under `/humans/`, not `/signoff-keys/`; only IAM users under that "
        "path can get keys from Signoff. Ask an admin to move the user (`aws iam update-user "
        "--user-name frank --new-path /signoff-keys/`) or request the key another way."
    )
    assert refused.value.field == "iam_user"
    assert env.automation.started == []


def test_users_in_paths_nested_under_the_key_path_may_get_keys(env: Env) -> None:
    env.iam.create_user(UserName="ci-bot", Path="/signoff-keys/ci/")
    env.service.request(ADMIN, "ci-bot", "CI")
    assert env.automation.started[0][1]["IamUser"] == ["ci-bot"]


@pytest.mark.parametrize("name", ["", "two words", "x" * 65, "dave;rm", "dåve", "a/b"])
def test_names_iam_would_refuse_are_refused_before_any_aws_call(env: Env, name: str) -> None:
    with pytest.raises(BadIamUserName) as refused:
        env.service.request(ADMIN, name, "reason")
    assert refused.value.field == "iam_user"
    assert env.automation.started == []


def test_names_with_every_character_iam_allows_pass_the_name_check(env: Env) -> None:
    env.iam.create_user(UserName="ci+bot=1,x.y@z_w-v", Path=KEY_PATH)
    env.service.request(ADMIN, "ci+bot=1,x.y@z_w-v", "reason")
    assert len(env.automation.started) == 1


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_a_missing_or_overlong_reason_is_refused_on_the_reason_field(env: Env, reason: str) -> None:
    with pytest.raises(ReasonMissing) as refused:
        env.service.request("U0DAVE", "dave", reason)
    assert refused.value.field == "reason"
    assert env.automation.started == []


def test_a_reason_keeps_quotes_backslashes_and_line_breaks_but_no_other_control_characters(
    env: Env,
) -> None:
    env.service.request("U0DAVE", "dave", ' say "please"\r\n  from C:\\keys \x00\x1b[31m\r\n')
    reason = 'say "please"\n  from C:\\keys   [31m'
    assert env.automation.started[0][1]["RequestReason"] == [reason]


def test_a_start_that_fails_leaves_no_record_behind(env: Env) -> None:
    def refuse(document: str, parameters: dict[str, list[str]]) -> str:
        env.automation.started.append((document, parameters))
        raise TransientError("SSM did not answer StartAutomationExecution")

    with patch.object(env.automation, "start", refuse), pytest.raises(TransientError):
        env.service.request("U0DAVE", "dave", "CI")
    [(_, parameters)] = env.automation.started
    assert env.records.get(parameters["RequestId"][0]) is None


def test_a_user_with_two_keys_is_refused_before_anything_starts(env: Env) -> None:
    env.iam.create_access_key(UserName="dave")
    env.service.request("U0DAVE", "dave", "one is fine")
    env.automation.started.clear()
    env.clock.at += timedelta(minutes=5)
    env.runs.runs.clear()
    env.iam.create_access_key(UserName="dave")
    with pytest.raises(KeyLimitReached, match="`dave` already has 2 access keys") as refused:
        env.service.request("U0DAVE", "dave", "a third")
    assert refused.value.field == "iam_user"
    assert env.automation.started == []


def test_a_request_already_waiting_for_that_user_blocks_a_second(env: Env) -> None:
    waiting = env.finished_run(status="Waiting")
    with pytest.raises(KeyRequestPending, match=waiting):
        env.service.request("U0DAVE", "dave", "again")
    with pytest.raises(KeyRequestPending, match=waiting):
        env.service.request(ADMIN, "dave", "again")  # the refusal released its own claim
    assert env.automation.started == []
    env.service.request(ADMIN, "erin", "other user is fine")


def test_two_requests_a_moment_apart_start_one_runbook_even_before_ssm_lists_it(
    env: Env,
) -> None:
    env.service.request("U0DAVE", "dave", "first")
    env.clock.at += timedelta(seconds=50)  # crosses into the next minute
    with pytest.raises(KeyRequestPending, match="a moment ago"):
        env.service.request(ADMIN, "dave", "second")
    assert len(env.automation.started) == 1
    # The claim lapses by itself; from then on SSM's list of running executions decides.
    env.clock.at += timedelta(minutes=2)
    env.service.request(ADMIN, "dave", "third")
    assert len(env.automation.started) == 2


def test_slash_command_text_is_split_and_unescaped() -> None:
    assert read_command("dave  deploy &amp; test &lt;prod&gt;") == ("dave", "deploy & test <prod>")
    assert read_command("  ") == ("", "")
    assert read_command("dave") == ("dave", "")


# -- telling the outcome ---------------------------------------------------------------------


def test_issued_key_dms_the_secret_name_and_the_exact_command_once(env: Env) -> None:
    name = "dave/access-key-20261123T101500Z"
    eid = env.finished_run(payload={"status": "issued", "iam_user": "dave", "secret_name": name})
    env.store.claim_card(eid, "ApproveKey", "C0KEYS")
    env.store.set_card_ts(eid, "ApproveKey", CardRef("C0KEYS", "100.1"))

    env.approval(eid, Outcome.APPROVED, Decision(BOB, Verdict.APPROVE))

    outcome = env.service.notify_outcome(eid)
    env.service.notify_outcome(eid)  # EventBridge delivers again

    assert outcome is not None and outcome.kind is OutcomeKind.ISSUED
    assert env.slack.updates == []  # "Approved" is the truth: the card stays as it is
    [(user, text)] = env.slack.dms
    assert user == "U0DAVE"
    assert (
        f"aws secretsmanager get-secret-value --secret-id '{name}' "
        "--query SecretString --output text" in text
    )
    [(ref, thread)] = env.slack.replies
    assert ref == CardRef("C0KEYS", "100.1")
    assert env.slack.reply_keys == [reply_key(eid, "key-outcome#thread")]
    assert name in thread and "<@U0DAVE>" in thread
    assert "get-secret-value" not in thread
    assert [r["event"] for r in env.audit.events(eid)] == ["access_key_outcome"]


def test_an_approved_card_whose_key_was_not_issued_says_so_once_and_stays_so(env: Env) -> None:
    eid = env.finished_run(payload={"status": "key_limit", "iam_user": "dave"})
    env.approval(eid, Outcome.APPROVED, Decision(BOB, Verdict.APPROVE))
    env.store.claim_card(eid, "ApproveKey", "C0KEYS")
    env.store.set_card_ts(eid, "ApproveKey", CardRef("C0KEYS", "100.1"))
    env.slack.fail_next_update = True

    with pytest.raises(TransientError):
        env.service.notify_outcome(eid)  # Slack failed the card: a redelivery shows it
    env.service.notify_outcome(eid)
    env.service.notify_outcome(eid)

    [(ref, blocks)] = env.slack.updates
    text = json.dumps(blocks)
    assert ref == CardRef("C0KEYS", "100.1")
    assert "*Approved* by <@U0BOB>" in text
    assert "No access key was created for `dave`" in text and "already has 2 access keys" in text
    # The re-rendered card still lists who may decide as people, not as the role alone.
    approvers = [f["text"] for b in blocks for f in b.get("fields", []) if "Approvers" in f["text"]]
    assert approvers and "<@U0BOB>" in approvers[0]
    # A late sync of the approval step finds the card showing a later state: no re-render.
    approval = env.automation.approvals[eid]
    assert not env.store.raise_rank(approval)


def test_a_rejection_dms_who_rejected_and_why(env: Env) -> None:
    eid = env.finished_run(status="Failed", failure_message="Step ApproveKey rejected")
    env.approval(eid, Outcome.REJECTED, Decision(BOB, Verdict.REJECT, comment="Use SSO instead"))

    env.service.notify_outcome(eid)

    [(user, text)] = env.slack.dms
    assert user == "U0DAVE"
    assert "rejected by <@U0BOB>: Use SSO instead" in text
    assert "get-secret-value" not in text


def test_a_rejection_by_a_session_merely_named_like_a_person_names_the_principal(
    env: Env,
) -> None:
    eid = env.finished_run(status="Failed", failure_message="Step ApproveKey rejected")
    env.approval(eid, Outcome.REJECTED, Decision(CAROL_ELSEWHERE, Verdict.REJECT, comment="no"))
    env.store.claim_card(eid, "ApproveKey", "C0KEYS")
    env.store.set_card_ts(eid, "ApproveKey", CardRef("C0KEYS", "100.1"))

    env.service.notify_outcome(eid)

    [(_, dm)] = env.slack.dms
    [(_, thread)] = env.slack.replies
    for text in (dm, thread):
        assert "rejected by `assumed-role/SomeOtherRole/U0CAROL`: no" in text
        assert "<@U0CAROL>" not in text


def test_an_unissued_key_card_names_a_session_merely_named_like_a_person_by_its_principal(
    env: Env,
) -> None:
    eid = env.finished_run(payload={"status": "key_limit", "iam_user": "dave"})
    env.approval(eid, Outcome.APPROVED, Decision(CAROL_ELSEWHERE, Verdict.APPROVE))
    env.store.claim_card(eid, "ApproveKey", "C0KEYS")
    env.store.set_card_ts(eid, "ApproveKey", CardRef("C0KEYS", "100.1"))

    env.service.notify_outcome(eid)

    [(_, blocks)] = env.slack.updates
    text = json.dumps(blocks)
    assert "*Approved* by `assumed-role/SomeOtherRole/U0CAROL`" in text
    # Carol is mapped to the approver role, so the Approvers field lists her as someone who may
    # decide; nothing else on the card makes her the one who did.
    decided = json.dumps([b for b in blocks if "fields" not in b])
    assert "<@U0CAROL>" not in decided


def test_a_user_with_two_keys_is_told_to_delete_one(env: Env) -> None:
    eid = env.finished_run(payload={"status": "key_limit", "iam_user": "dave"})
    outcome = env.service.notify_outcome(eid)
    assert outcome is not None and outcome.kind is OutcomeKind.REFUSED
    text = env.slack.dms[0][1]
    assert "already has 2 access keys" in text and "aws iam delete-access-key" in text


def test_a_failed_issue_step_dms_why(env: Env) -> None:
    eid = env.finished_run(
        status="Failed",
        payload='{"errorType": "ServiceError", "errorMessage": "AWS refused"}',
        failure_message="Lambda function returned an error: ServiceError: AWS refused",
    )
    env.approval(eid, Outcome.APPROVED, Decision(BOB, Verdict.APPROVE))
    outcome = env.service.notify_outcome(eid)
    assert outcome is not None and outcome.kind is OutcomeKind.FAILED
    assert (
        "failed: Lambda function returned an error: ServiceError: AWS refused"
        in (env.slack.dms[0][1])
    )


def test_timed_out_and_cancelled_requests_say_so(env: Env) -> None:
    timed_out = env.finished_run(status="TimedOut")
    env.approval(timed_out, Outcome.TIMED_OUT)
    cancelled = env.finished_run(status="Cancelled")
    env.service.notify_outcome(timed_out)
    env.service.notify_outcome(cancelled)
    assert "before it timed out" in env.slack.dms[0][1]
    assert "was cancelled" in env.slack.dms[1][1]


def test_nothing_is_said_before_the_run_ends_or_about_other_runbooks(env: Env) -> None:
    running = env.finished_run(status="InProgress")
    other = env.finished_run(document="Signoff-Approval")
    assert env.service.notify_outcome(running) is None
    assert env.service.notify_outcome(other) is None
    assert env.slack.dms == []


def test_a_dm_slack_failed_to_take_is_sent_by_the_next_delivery(env: Env) -> None:
    eid = env.finished_run(payload={"status": "user_not_found", "iam_user": "dave"})
    env.slack.fail_next_dm = True
    with pytest.raises(TransientError):
        env.service.notify_outcome(eid)
    env.service.notify_outcome(eid)
    [(_, text)] = env.slack.dms
    assert "no longer exists" in text


def test_the_outcome_dm_renders_within_block_kit_limits() -> None:
    # Text only, but the started modal carries the same text: slack_sdk validates it.
    request = KeyRequest("U0DAVE", "dave", "x" * 500, "e" * 36)
    views.key_request_started_modal(request).validate_json()


# -- the reconciler: outcomes whose event was lost --------------------------------------------


def issued(env: Env, **kw: Any) -> str:
    name = "dave/access-key-20261123T101500Z"
    eid = env.finished_run(
        payload={"status": "issued", "iam_user": "dave", "secret_name": name}, **kw
    )
    env.store.claim_card(eid, "ApproveKey", "C0KEYS")
    env.store.set_card_ts(eid, "ApproveKey", CardRef("C0KEYS", "100.1"))
    return eid


def test_reconcile_tells_an_outcome_whose_event_was_lost_once(env: Env) -> None:
    eid = issued(env)

    first = env.service.reconcile()
    second = env.service.reconcile()

    assert first == {"checked": 1, "told": 1, "failed": 0}
    assert second == {"checked": 0, "told": 0, "failed": 0}
    [(user, dm)] = env.slack.dms
    assert user == "U0DAVE" and "dave/access-key-20261123T101500Z" in dm
    [(ref, _)] = env.slack.replies
    assert ref == CardRef("C0KEYS", "100.1")
    assert [r["event"] for r in env.audit.events(eid)] == ["access_key_outcome"]


def test_reconcile_passes_by_outcomes_the_event_already_told(env: Env) -> None:
    eid = issued(env)
    env.service.notify_outcome(eid)  # the event arrived

    assert env.service.reconcile() == {"checked": 0, "told": 0, "failed": 0}
    env.service.notify_outcome(eid)  # and arrives again after the reconciler ran
    assert len(env.slack.dms) == 1 and len(env.slack.replies) == 1


def test_reconcile_racing_the_event_never_dms_twice(env: Env) -> None:
    eid = issued(env)
    # The event's Lambda has claimed the DM and is still sending it when the reconciler runs.
    env.store.claims.take(env.store.key_outcome_dm_claim(eid))

    assert env.service.reconcile() == {"checked": 1, "told": 1, "failed": 0}
    assert env.slack.dms == []  # the DM is the event's to send
    assert len(env.slack.replies) == 1
    env.service.notify_outcome(eid)  # the event's Lambda goes on: nothing left for it to say
    assert len(env.slack.replies) == 1
    # Until the event's Lambdas are surely over, the run is looked at again, sending nothing;
    # after that it is passed by.
    assert env.service.reconcile() == {"checked": 1, "told": 0, "failed": 0}
    env.clock.at += timedelta(hours=2)
    assert env.service.reconcile() == {"checked": 1, "told": 0, "failed": 0}
    assert env.service.reconcile()["checked"] == 0
    assert env.slack.dms == [] and len(env.slack.replies) == 1


def test_a_dm_the_racing_event_failed_to_send_is_sent_by_the_next_run(env: Env) -> None:
    eid = issued(env)
    dm = env.store.key_outcome_dm_claim(eid)
    env.store.claims.take(dm)  # the event's Lambda is sending the DM ...
    env.service.reconcile()
    env.store.claims.release(dm)  # ... Slack refuses it; the claim is given back

    assert env.service.reconcile() == {"checked": 1, "told": 1, "failed": 0}
    env.service.reconcile()
    [(user, _)] = env.slack.dms
    assert user == "U0DAVE" and len(env.slack.replies) == 1


def test_reconcile_looks_back_a_day_of_endings_and_no_further(env: Env) -> None:
    recent = issued(env, ended_ago=timedelta(hours=23))
    issued(env, ended_ago=timedelta(hours=25))

    assert env.service.reconcile()["told"] == 1
    assert len(env.slack.dms) == 1
    assert [r["event"] for r in env.audit.events(recent)] == ["access_key_outcome"]
    # Runs that ended in the last day may have waited a day for approval before that.
    [(document, started_after, pages)] = env.runs.listed
    assert document == DOC and pages == 4
    assert started_after == env.clock.at - timedelta(hours=49)


def test_a_failed_dm_is_counted_retried_next_run_and_does_not_stop_the_others(env: Env) -> None:
    failing = issued(env)
    issued(env)
    env.slack.fail_next_dm = True  # Slack refuses the first DM of this run

    assert env.service.reconcile() == {"checked": 2, "told": 1, "failed": 1}
    assert env.service.reconcile() == {"checked": 1, "told": 1, "failed": 0}
    assert len(env.slack.dms) == 2
    assert [r["event"] for r in env.audit.events(failing)] == ["access_key_outcome"]


def test_one_run_tells_at_most_so_many_outcomes_and_the_next_run_goes_on(env: Env) -> None:
    for _ in range(3):
        issued(env)

    assert env.service.reconcile(max_told=2)["told"] == 2
    assert env.service.reconcile(max_told=2)["told"] == 1
    assert len(env.slack.dms) == 3


def test_a_run_nobody_can_be_told_about_is_checked_once(env: Env) -> None:
    # Started from the console: no requester to DM, no card to reply under.
    eid = env.finished_run(status="Cancelled")
    env.runs.runs[eid] = replace(env.runs.runs[eid], parameters={"IamUser": ("dave",)})

    assert env.service.reconcile() == {"checked": 1, "told": 0, "failed": 0}
    assert env.service.reconcile()["checked"] == 0
    assert env.slack.dms == [] and env.slack.replies == []


# -- the form --------------------------------------------------------------------------------


def test_the_form_starts_with_the_requesters_own_iam_user_when_mapped(env: Env) -> None:
    assert env.service.own_iam_user("U0DAVE") == "dave"
    assert env.service.own_iam_user("U0BOB") is None  # an approver role only
    assert env.service.own_iam_user("U0NOBODY") is None


def test_the_form_still_opens_when_the_identities_table_cannot_be_read(env: Env) -> None:
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName="identities")
    # The form's trigger lives 3 seconds: an empty form beats no form.
    assert env.service.own_iam_user("U0DAVE") is None
