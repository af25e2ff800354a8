"""The sandbox's DynamoDB (moto, patched): one request at a time, as atomic as AWS's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

import sandbox.aws
from tests.support.dynamo import create_table

REGION = "us-east-1"
KEY = {"pk": {"S": "pace#C0FAKE"}, "sk": {"S": "pace"}}


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    sandbox.aws.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_table(client, "approvals", "fake-approvals")
        yield client


def test_a_request_waits_while_another_reads_the_item_it_will_write(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto's UpdateItem copies the item before it writes; a write landing during that copy
    # raised "dictionary changed size during iteration". Hold the first request inside its
    # read and check the second does not run until it is let go.
    reading, let_go = threading.Event(), threading.Event()
    read = DynamoDBBackend.get_item

    def held_read(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "first":
            reading.set()
            let_go.wait(10)
        return read(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "get_item", held_read)

    def update(value: str) -> None:
        dynamodb.update_item(
            TableName="fake-approvals",
            Key=KEY,
            UpdateExpression="SET #v = :v",
            ExpressionAttributeNames={"#v": f"attr_{value}"},
            ExpressionAttributeValues={":v": {"S": value}},
            ReturnValues="ALL_NEW",
        )

    first = threading.Thread(target=update, args=("first",), name="first")
    second_done = threading.Event()
    second = threading.Thread(target=lambda: (update("second"), second_done.set()))
    first.start()
    assert reading.wait(10)
    second.start()

    assert not second_done.wait(0.5), "the second request ran inside the first"
    let_go.set()
    first.join(10)
    second.join(10)

    assert second_done.is_set()
    item = dynamodb.get_item(TableName="fake-approvals", Key=KEY)["Item"]
    assert (item["attr_first"], item["attr_second"]) == ({"S": "first"}, {"S": "second"})
