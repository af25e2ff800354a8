"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from bot.gateways.dynamo import TableAt
from tests.support.dynamo import create_table


@pytest.fixture
def table() -> Iterator[TableAt]:
    """A moto DynamoDB table keyed and indexed as the template has the approvals table."""
    with mock_aws():
        yield create_table(
            boto3.client("dynamodb", region_name="us-east-1"), "approvals", "approvals"
        )
