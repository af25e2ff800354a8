"""The identities table's gateway: a warm function's memory of the mappings it found."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from bot.gateways.dynamo import TableAt
from bot.gateways.tables import IdentityStore
from bot.models import Identity
from tests.support.dynamo import signoff_tables

ROLE = "arn:aws:iam::000000000000:role/FakeApprover"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def identities() -> Iterator[TableAt]:
    with mock_aws():
        yield signoff_tables(boto3.client("dynamodb", region_name="us-east-1"))["identities"]


def map_directly(table: TableAt, slack_user_id: str, role_arn: str = ROLE) -> None:
    """As `signoff users map` in another process would: the table changes, not this store."""
    table.client.put_item(
        TableName=table.name,
        Item={
            "slack_user_id": {"S": slack_user_id},
            "display_name": {"S": slack_user_id},
            "role_arn": {"S": role_arn},
        },
    )


def unmap_directly(table: TableAt, slack_user_id: str) -> None:
    table.client.delete_item(TableName=table.name, Key={"slack_user_id": {"S": slack_user_id}})


def test_a_plain_read_always_asks_the_table(identities: TableAt) -> None:
    store = IdentityStore(identities, clock=Clock())
    map_directly(identities, "U1")
    assert store.get("U1") == Identity("U1", "U1", role_arn=ROLE)
    unmap_directly(identities, "U1")
    assert store.get("U1") is None


def test_a_found_mapping_answers_reads_that_accept_its_age(identities: TableAt) -> None:
    clock = Clock()
    store = IdentityStore(identities, clock=clock)
    map_directly(identities, "U1")
    assert store.get("U1") is not None
    unmap_directly(identities, "U1")

    clock.now += 59
    assert store.get("U1", max_age=60) == Identity("U1", "U1", role_arn=ROLE)
    clock.now += 2
    assert store.get("U1", max_age=60) is None  # too old: read again, and gone
    assert store.get("U1", max_age=60) is None


def test_a_missing_mapping_is_never_remembered(identities: TableAt) -> None:
    store = IdentityStore(identities, clock=Clock())
    assert store.get("U2", max_age=60) is None
    map_directly(identities, "U2")
    assert store.get("U2", max_age=60) == Identity("U2", "U2", role_arn=ROLE)


def test_this_process_changing_a_mapping_forgets_what_it_remembered(identities: TableAt) -> None:
    store = IdentityStore(identities, clock=Clock())
    map_directly(identities, "U3")
    assert store.get("U3") is not None
    store.put(Identity("U3", "U3", role_arn=ROLE + "Two"))
    assert store.get("U3", max_age=60) == Identity("U3", "U3", role_arn=ROLE + "Two")
    store.delete("U3")
    assert store.get("U3", max_age=60) is None
