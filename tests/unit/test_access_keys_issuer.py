"""The issuer: one key per approved request, into a secret only its owner (and admins) may read."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
import msgspec
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bot.access_key_models import IssueKeyPayload, KeyRequest
from bot.access_keys import KeyIssuer, secret_name
from bot.errors import ServiceError
from bot.gateways.automation import AutomationGateway
from bot.gateways.dynamo import TableAt
from bot.gateways.iam import EXECUTION_TAG, AccessKeyGateway, read_policy
from bot.gateways.key_requests import KeyRequestRecords
from bot.gateways.tables import AuditLog
from bot.models import Approval, Decision, Outcome, Verdict
from tests.support.fakes import FakeAutomation

REGION = "us-east-1"
ACCT = "123456789012"
DOC = "Signoff-AccessKey"
EID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
ADMIN_ROLE = f"arn:aws:iam::{ACCT}:role/KeyAdmin"
BOB = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0BOB"
DAVE_SESSION = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0DAVE"
NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
KEY_APPROVER_ROLE = f"arn:aws:iam::{ACCT}:role/SignoffApprover"  # the deployed KeyApprovers
MALLORY = f"arn:aws:iam::{ACCT}:user/mallory"
REQUEST_ID = "5f0c6b1e-3d7a-4c2b-9e8f-1a2b3c4d5e6f"
OTHER_EID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
REASON = 'rotate "ci" key\nfrom C:\\deploy'


class Spy:
    """A boto3 client that keeps what IAM returned, and can fail one operation on demand."""

    def __init__(self, client: Any, fail: str | None = None) -> None:
        self._client = client
        self.fail = fail
        self.secrets_seen: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name == self.fail:

            def failing(**kwargs: Any) -> Any:
                raise ClientError(
                    {"Error": {"Code": "InternalServiceError", "Message": "boom"}}, name
                )

            return failing
        if name == "create_access_key":

            def spying(**kwargs: Any) -> Any:
                response = method(**kwargs)
                self.secrets_seen.append(response["AccessKey"]["SecretAccessKey"])
                return response

            return spying
        return method


class Env:
    def __init__(
        self,
        fail: str | None = None,
        prefix: str = "",
        key_path: str = "/",
        user_path: str = "/",
        min_approvals: int = 1,
    ) -> None:
        session = boto3.Session(region_name=REGION)
        dynamodb = session.resource("dynamodb")
        for table in ("audit", "approvals"):
            dynamodb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
            )
        self.iam_client = session.client("iam")
        self.iam_client.create_user(UserName="dave", Path=user_path)
        self.secrets = session.client("secretsmanager")
        self.iam = Spy(self.iam_client, fail if fail == "create_access_key" else None)
        self.sm = Spy(self.secrets, fail if fail != "create_access_key" else None)
        self.automation = FakeAutomation()
        self.audit = AuditLog(TableAt(session.client("dynamodb"), "audit"), lambda: NOW)
        self.records = KeyRequestRecords(
            TableAt(session.client("dynamodb"), "approvals"), lambda: NOW
        )
        self.issuer = KeyIssuer(
            document=DOC,
            secret_prefix=prefix,
            admin_role_arn=ADMIN_ROLE,
            key_user_path=key_path,
            approvers=[KEY_APPROVER_ROLE],
            min_approvals=min_approvals,
            automation=self.automation,  # type: ignore[arg-type]
            keys=AccessKeyGateway(self.iam, self.sm),  # type: ignore[arg-type]
            records=self.records,
            audit=self.audit,
            now=lambda: NOW,
        )
        # What /request-key does: record, start, bind.
        self.records.record(REQUEST_ID, KeyRequest("U0DAVE", "dave", REASON))
        self.records.bind(REQUEST_ID, EID)
        self.approve()

    def approve(
        self,
        *decisions: Decision,
        outcome: Outcome = Outcome.APPROVED,
        execution_id: str = EID,
        **params: str,
    ) -> None:
        parameters = {
            "IamUser": "dave",
            "RequesterSlackId": "U0DAVE",
            "RequestReason": REASON,
            "RequestId": REQUEST_ID,
            **params,
        }
        parameters = {k: v for k, v in parameters.items() if v}
        self.automation.approvals[execution_id] = Approval(
            execution_id=execution_id,
            step_name="ApproveKey",
            document_name=DOC,
            region=REGION,
            outcome=outcome,
            approvers=(f"arn:aws:iam::{ACCT}:role/SignoffApprover",),
            min_required=1,
            decisions=decisions or (Decision(BOB, Verdict.APPROVE, comment="ok"),),
            parameters={k: (v,) for k, v in parameters.items()},
        )

    def issue(self, **changes: str) -> dict[str, str]:
        payload = {
            "execution_id": EID,
            "iam_user": "dave",
            "requester": "U0DAVE",
            "reason": REASON,
            **changes,
        }
        return self.issuer.issue(request=IssueKeyPayload(**payload))

    def keys(self) -> list[str]:
        metadata = self.iam_client.list_access_keys(UserName="dave")["AccessKeyMetadata"]
        return [k["AccessKeyId"] for k in metadata]

    def secret_names(self) -> list[str]:
        return [s["Name"] for s in self.secrets.list_secrets()["SecretList"]]


@pytest.fixture
def env() -> Iterator[Env]:
    with mock_aws():
        yield Env()


def test_an_approved_request_gets_one_key_stored_only_in_its_secret(env: Env) -> None:
    report = env.issue()

    name = "dave/access-key-20261123T101500Z"
    assert report == {"status": "issued", "iam_user": "dave", "secret_name": name}
    [key_id] = env.keys()
    stored = json.loads(env.secrets.get_secret_value(SecretId=name)["SecretString"])
    assert stored["AccessKeyId"] == key_id
    assert stored["SecretAccessKey"] == env.iam.secrets_seen[0]
    # The report, the audit trail and the secret's metadata hold neither the key nor its id.
    described = env.secrets.describe_secret(SecretId=name)
    for public in (report, env.audit.events(EID), described["Tags"], described["Description"]):
        assert env.iam.secrets_seen[0] not in json.dumps(public, default=str)
        assert key_id not in json.dumps(public, default=str)


def test_the_secret_is_tagged_with_who_asked_who_approved_and_the_execution(env: Env) -> None:
    env.issue()
    tags = {
        t["Key"]: t["Value"]
        for t in env.secrets.describe_secret(SecretId=env.secret_names()[0])["Tags"]
    }
    assert tags == {
        EXECUTION_TAG: EID,
        "signoff:iam-user": "dave",
        "signoff:requester": "U0DAVE",
        "signoff:approvers": BOB,
    }


def test_only_the_user_and_the_admin_role_may_read_the_secret(env: Env) -> None:
    env.issue()
    policy = json.loads(
        env.secrets.get_resource_policy(SecretId=env.secret_names()[0])["ResourcePolicy"]
    )
    readers = sorted([f"arn:aws:iam::{ACCT}:user/dave", ADMIN_ROLE])
    allow, deny = policy["Statement"]
    assert allow["Effect"] == "Allow" and allow["Principal"] == {"AWS": readers}
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Action"] == "secretsmanager:GetSecretValue"
    assert deny["Condition"] == {"StringNotEquals": {"aws:PrincipalArn": readers}}


def test_without_an_admin_role_only_the_user_may_read() -> None:
    policy = json.loads(read_policy([f"arn:aws:iam::{ACCT}:user/dave"]))
    assert policy["Statement"][0]["Principal"] == {"AWS": [f"arn:aws:iam::{ACCT}:user/dave"]}


def test_a_retried_invocation_reports_the_same_secret_and_creates_no_second_key(
    env: Env,
) -> None:
    first = env.issue()
    second = env.issue()
    assert second == first
    assert len(env.keys()) == 1
    assert len(env.secret_names()) == 1


def test_a_user_with_two_keys_gets_none_and_no_secret(env: Env) -> None:
    env.iam_client.create_access_key(UserName="dave")
    env.iam_client.create_access_key(UserName="dave")
    assert env.issue() == {"status": "key_limit", "iam_user": "dave"}
    assert len(env.keys()) == 2
    assert env.secret_names() == []


def test_a_user_deleted_since_the_request_gets_nothing(env: Env) -> None:
    env.iam_client.delete_user(UserName="dave")
    assert env.issue() == {"status": "user_not_found", "iam_user": "dave"}
    assert env.secret_names() == []


def test_a_user_outside_the_key_path_gets_nothing_and_the_refusal_says_why() -> None:
    with mock_aws():
        # Moved out of KeyUserPath after the request, with IAM still letting Signoff see it.
        env = Env(key_path="/signoff-keys/", user_path="/humans/")
        assert env.issue() == {"status": "out_of_path", "iam_user": "dave"}
        assert env.keys() == [] and env.secret_names() == []
        [row] = env.audit.events(EID)
        assert row["event"] == "access_key_refused" and row["status"] == "out_of_path"


def test_a_user_under_the_key_path_gets_a_key() -> None:
    with mock_aws():
        env = Env(key_path="/signoff-keys/", user_path="/signoff-keys/ci/")
        assert env.issue()["status"] == "issued"
        assert len(env.keys()) == 1


@pytest.mark.parametrize("operation", ["get_user", "get_paginator", "create_access_key"])
def test_iam_denying_the_user_midway_is_a_refusal_not_a_failure(env: Env, operation: str) -> None:
    # The template scopes the issuer's IAM calls to KeyUserPath: a user moved out of it since
    # the request is denied by the first call, or by the one after the move.
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "IAM")
    with patch.object(env.iam_client, operation, side_effect=denied):
        report = env.issue()
    assert report == {"status": "out_of_path", "iam_user": "dave"}
    assert env.keys() == [] and env.secret_names() == []


@pytest.mark.parametrize(
    ("decisions", "outcome", "params", "payload"),
    [
        ((), Outcome.WAITING, {}, {}),  # invoked before anyone approved
        ((Decision(BOB, Verdict.REJECT),), Outcome.REJECTED, {}, {}),
        ((Decision(DAVE_SESSION, Verdict.APPROVE),), Outcome.APPROVED, {}, {}),  # self-approval
        (
            (Decision(f"arn:aws:iam::{ACCT}:user/dave", Verdict.APPROVE),),
            Outcome.APPROVED,
            {},
            {},
        ),
    ],
)
def test_no_key_without_an_approval_ssm_confirms_from_someone_else(
    env: Env,
    decisions: tuple[Decision, ...],
    outcome: Outcome,
    params: dict[str, str],
    payload: dict[str, str],
) -> None:
    env.approve(*decisions, outcome=outcome, **params)
    report = env.issue(**payload)
    assert report["status"] == "not_approved"
    assert env.keys() == [] and env.secret_names() == []


def test_the_secret_prefix_and_the_comma_iam_allows_in_names() -> None:
    assert secret_name("team/", "ci,bot", NOW) == "team/ci_bot/access-key-20261123T101500Z"
    with mock_aws():
        assert Env(prefix="keys/").issue()["secret_name"] == (
            "keys/dave/access-key-20261123T101500Z"
        )


@pytest.mark.parametrize(
    "failing", ["put_resource_policy", "create_access_key", "put_secret_value"]
)
def test_a_failure_midway_leaves_no_secret_no_key_and_no_key_in_the_error(failing: str) -> None:
    with mock_aws():
        env = Env(fail=failing)
        with pytest.raises(ServiceError) as raised:
            env.issue()
        assert env.keys() == []
        assert env.secret_names() == []
        everything = "".join(traceback.format_exception(raised.value))
        for secret in env.iam.secrets_seen:
            assert secret not in everything


class RealShapeSsm:
    """GetAutomationExecution of an approved key request, decisions as a real account returns
    them: each ApproverDecisions element a JSON string with the verdict under `Decision`."""

    def __init__(self, element: str) -> None:
        self.element = element

    def get_automation_execution(self, AutomationExecutionId: str) -> dict[str, Any]:
        return {
            "AutomationExecution": {
                "AutomationExecutionId": AutomationExecutionId,
                "DocumentName": DOC,
                "AutomationExecutionStatus": "InProgress",
                "Parameters": {
                    "IamUser": ["dave"],
                    "RequesterSlackId": ["U0DAVE"],
                    "RequestReason": [REASON],
                    "RequestId": [REQUEST_ID],
                },
                "StepExecutionsTruncated": False,
                "StepExecutions": [
                    {
                        "StepName": "ApproveKey",
                        "Action": "aws:approve",
                        "StepStatus": "Success",
                        "Inputs": {"Approvers": f'["arn:aws:iam::{ACCT}:role/SignoffApprover"]'},
                        "Outputs": {
                            "ApprovalStatus": ["Approved"],
                            "ApproverDecisions": [self.element],
                        },
                    }
                ],
            }
        }


UPSTREAM_ELEMENT = (
    Path(__file__).parents[1] / "fixtures" / "upstream" / "ssm_approver_decisions_element.json"
).read_text()


def _real_shape_issuer(env: Env, element: str) -> KeyIssuer:
    return KeyIssuer(
        document=DOC,
        secret_prefix="",
        admin_role_arn=ADMIN_ROLE,
        key_user_path="/",
        approvers=[KEY_APPROVER_ROLE],
        min_approvals=1,
        automation=AutomationGateway(RealShapeSsm(element), REGION),  # type: ignore[arg-type]
        keys=AccessKeyGateway(env.iam, env.sm),  # type: ignore[arg-type]
        records=env.records,
        audit=env.audit,
        now=lambda: NOW,
    )


def test_a_key_is_issued_when_ssm_records_the_approval_in_its_real_shape(env: Env) -> None:
    # The re:Post element with only its approver changed to a key approver's session.
    element = UPSTREAM_ELEMENT.replace('"xxx"', json.dumps(BOB))
    payload = IssueKeyPayload(execution_id=EID, iam_user="dave", requester="U0DAVE", reason=REASON)

    report = _real_shape_issuer(env, element).issue(request=payload)

    assert report["status"] == "issued"
    assert len(env.keys()) == 1
    tags = {
        t["Key"]: t["Value"]
        for t in env.secrets.describe_secret(SecretId=report["secret_name"])["Tags"]
    }
    assert tags["signoff:approvers"] == BOB


def test_the_verbatim_real_element_is_read_yet_its_approver_is_no_key_approver(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    # The sample's approver ("xxx", redacted by its author) is parsed, not dropped, and then
    # refused as a decider the deployment did not name.
    payload = IssueKeyPayload(execution_id=EID, iam_user="dave", requester="U0DAVE", reason=REASON)
    with caplog.at_level(logging.WARNING, logger="bot.access_keys"):
        report = _real_shape_issuer(env, UPSTREAM_ELEMENT).issue(request=payload)

    assert report["status"] == "not_approved"
    assert env.keys() == []
    assert any("not enough approvals by key approvers" in r.getMessage() for r in caplog.records)


def test_a_quorum_ssm_met_with_one_person_twice_issues_nothing(env: Env) -> None:
    # If SSM counted a repeated principal toward MinRequiredApprovals (AWS does not say it does
    # not), the issuer still wants that many distinct people.
    env.approve(Decision(BOB, Verdict.APPROVE), Decision(BOB, Verdict.APPROVE))
    env.automation.approvals[EID] = msgspec.structs.replace(
        env.automation.approvals[EID], min_required=2
    )

    assert env.issue()["status"] == "not_approved"
    assert env.keys() == []


# -- runs Signoff did not start: anyone may start the runbook or invoke the issuer -----------


def _refused_as_not_recorded(env: Env, caplog: pytest.LogCaptureFixture, **payload: str) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.access_keys"):
        report = env.issue(**payload)
    assert report == {"status": "not_recorded", "iam_user": payload.get("iam_user", "dave")}
    assert env.keys() == [] and env.secret_names() == []
    assert any("not a request Signoff started" in r.getMessage() for r in caplog.records)
    [row] = env.audit.events(EID)
    assert row["event"] == "access_key_refused" and row["status"] == "not_recorded"


def test_a_run_without_a_recorded_request_gets_no_key(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.approve(RequestId="")  # started by hand, approved by a real key approver
    _refused_as_not_recorded(env, caplog)


def test_a_run_naming_a_request_id_signoff_never_recorded_gets_no_key(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.approve(RequestId="00000000-0000-4000-8000-000000000000")
    _refused_as_not_recorded(env, caplog)


def test_a_copy_of_a_recorded_request_bound_to_another_run_gets_no_key(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.records.record("11111111-2222-4333-8444-555555555555", KeyRequest("U0DAVE", "dave", REASON))
    env.records.bind("11111111-2222-4333-8444-555555555555", OTHER_EID)
    env.approve(RequestId="11111111-2222-4333-8444-555555555555")
    _refused_as_not_recorded(env, caplog)


@pytest.mark.parametrize(
    ("params", "payload"),
    [
        ({"IamUser": "erin"}, {"iam_user": "erin"}),  # the record says dave
        ({"RequesterSlackId": "U0MALLORY"}, {"requester": "U0MALLORY"}),
        ({"RequestReason": "something else"}, {"reason": "something else"}),
        ({}, {"iam_user": "root-ish"}),  # a direct invocation: payload differs from SSM's
        ({}, {"requester": "U0MALLORY"}),
        ({}, {"reason": "rotate"}),
    ],
)
def test_a_run_whose_parameters_differ_from_the_recorded_request_gets_no_key(
    env: Env,
    caplog: pytest.LogCaptureFixture,
    params: dict[str, str],
    payload: dict[str, str],
) -> None:
    env.iam_client.create_user(UserName="erin")
    env.approve(**params)
    _refused_as_not_recorded(env, caplog, **payload)


def test_a_record_the_request_could_not_bind_is_bound_by_its_first_run_only(env: Env) -> None:
    # The bot died between StartAutomationExecution and the binding: the first run that names
    # the record takes it; any other run naming it later is a copy.
    env.records.record("22222222-3333-4444-8555-666666666666", KeyRequest("U0DAVE", "dave", REASON))
    env.approve(RequestId="22222222-3333-4444-8555-666666666666")
    env.approve(RequestId="22222222-3333-4444-8555-666666666666", execution_id=OTHER_EID)
    assert (
        env.issuer.issue(
            request=IssueKeyPayload(
                execution_id=OTHER_EID, iam_user="dave", requester="U0DAVE", reason=REASON
            )
        )["status"]
        == "issued"
    )
    assert env.issue()["status"] == "not_recorded"
    assert len(env.keys()) == 1


def test_an_approval_by_someone_not_a_key_approver_issues_no_key(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    # An older document version took Approvers from its starter: SSM let mallory approve.
    env.approve(Decision(MALLORY, Verdict.APPROVE))
    with caplog.at_level(logging.WARNING, logger="bot.access_keys"):
        assert env.issue()["status"] == "not_approved"
    assert env.keys() == [] and env.secret_names() == []
    assert any("not enough approvals by key approvers" in r.getMessage() for r in caplog.records)


def test_the_deployed_quorum_counts_not_the_runs_own() -> None:
    with mock_aws():
        env = Env(min_approvals=2)  # KeyMinApprovals=2; the run itself asked for 1
        assert env.issue()["status"] == "not_approved"
        carol = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0CAROL"
        env.approve(Decision(BOB, Verdict.APPROVE), Decision(carol, Verdict.APPROVE))
        assert env.issue()["status"] == "issued"


def test_a_key_approver_approval_of_a_recorded_request_issues(env: Env) -> None:
    assert env.issue()["status"] == "issued"
    [row] = env.audit.events(EID)
    assert row["event"] == "access_key_issued" and row["reason"] == REASON
