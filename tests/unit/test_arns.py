"""Partitions: Signoff works the same with ARNs of aws-cn, aws-us-gov and the ISO partitions."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from bot import cli
from bot.arns import partition_of, role_arn, topic_name
from bot.config import Settings
from bot.gateways.tables import IdentityStore
from bot.models import Identity
from tests.support.dynamo import create_table

ACCOUNT = "123456789012"
BASE = {
    "AWS_REGION": "cn-north-1",
    "SIGNOFF_APPROVALS_TABLE": "approvals",
    "SIGNOFF_AUDIT_TABLE": "audit",
    "SIGNOFF_IDENTITIES_TABLE": "identities",
    "SIGNOFF_IDEMPOTENCY_TABLE": "idempotency",
    "SIGNOFF_DEFAULT_CHANNEL": "C0DEFAULT",
    "SLACK_BOT_TOKEN": "xoxb-test-not-a-real-token",
    "SLACK_SIGNING_SECRET": "test-signing-secret",
}


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"])
def test_a_channel_route_keyed_by_topic_name_serves_that_topic_in_every_partition(
    partition: str,
) -> None:
    settings = Settings.from_env({**BASE, "SIGNOFF_CHANNEL_ROUTES": '{"AutomationL1": "C0L1"}'})
    topic = f"arn:{partition}:sns:cn-north-1:{ACCOUNT}:AutomationL1"

    assert settings.channel_for(topic) == "C0L1"


def test_a_channel_route_keyed_by_an_aws_cn_topic_arn_is_used() -> None:
    topic = f"arn:aws-cn:sns:cn-north-1:{ACCOUNT}:AutomationL2"
    settings = Settings.from_env({**BASE, "SIGNOFF_CHANNEL_ROUTES": f'{{"{topic}": "C0L2"}}'})

    assert settings.channel_for(topic, "Doc") == "C0L2"
    assert settings.channel_for(topic.replace("aws-cn", "aws"), "Doc") == "C0DEFAULT"


def test_what_only_looks_like_an_arn_is_no_topic() -> None:
    assert topic_name(f"arn:awsfake:sns:us-east-1:{ACCOUNT}:AutomationL1") is None
    assert topic_name(f"arn:aws-us-gov:sqs:us-gov-west-1:{ACCOUNT}:AutomationL1") is None
    assert topic_name("AutomationL1") is None


def test_the_assumed_role_session_keeps_the_roles_partition() -> None:
    role = f"arn:aws-us-gov:iam::{ACCOUNT}:role/team/Approver"

    identity = Identity("U0ALICE", "Alice", role_arn=role)

    assert identity.principal_arn == f"arn:aws-us-gov:sts::{ACCOUNT}:assumed-role/Approver/U0ALICE"
    assert partition_of(role) == "aws-us-gov"


@pytest.mark.parametrize(
    ("arn", "valid"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/Approver", True),
        (f"arn:aws-cn:iam::{ACCOUNT}:role/Approver", True),
        (f"arn:aws-us-gov:iam::{ACCOUNT}:role/path/Approver", True),
        (f"arn:aws-iso-f:iam::{ACCOUNT}:role/Approver", True),
        (f"arn:awsfake:iam::{ACCOUNT}:role/Approver", False),
        (f"arn:aws-cn:iam::{ACCOUNT}:user/alice", False),
        (f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/Approver/U0ALICE", False),
    ],
)
def test_role_arns_are_recognised_in_every_partition(arn: str, valid: bool) -> None:
    assert (role_arn(arn) is not None) is valid


@pytest.fixture
def identities(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityStore]:
    with mock_aws():
        for name, value in {**BASE, "AWS_REGION": "us-east-1"}.items():
            monkeypatch.setenv(name, value)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(dynamodb, "audit", "audit")
        yield IdentityStore(create_table(dynamodb, "identities", "identities"))


def test_mapping_a_person_to_an_aws_us_gov_role_acts_in_that_partition(
    identities: IdentityStore, capsys: pytest.CaptureFixture[str]
) -> None:
    role = f"arn:aws-us-gov:iam::{ACCOUNT}:role/Approver"

    assert cli.main(["users", "map", "U0ALICE", "--role", role, "--name", "Alice"]) == 0

    assert identities.get("U0ALICE") == Identity("U0ALICE", "Alice", role_arn=role)
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith(f"acts as arn:aws-us-gov:sts::{ACCOUNT}:assumed-role/Approver/U0ALICE")
    )


def test_mapping_to_something_that_is_no_role_arn_says_what_one_looks_like(
    capsys: pytest.CaptureFixture[str],
) -> None:
    role = f"arn:awsfake:iam::{ACCOUNT}:role/Approver"

    assert cli.main(["users", "map", "U0ALICE", "--role", role, "--name", "Alice"]) == 2

    assert "arn:<partition>:iam::<account>:role/<name>" in capsys.readouterr().err
