"""DynamoDB tables for tests that build the services on moto themselves."""

from __future__ import annotations

from typing import Any

from bot.gateways.dynamo import TableAt


def signoff_tables(dynamodb: Any) -> dict[str, TableAt]:
    """The approvals, audit and identities tables, keyed as the template keys them, on a
    low-level DynamoDB client (inside a moto mock the caller opened)."""
    tables = {}
    for name, keys in {
        "approvals": [("pk", "HASH"), ("sk", "RANGE")],
        "audit": [("pk", "HASH"), ("sk", "RANGE")],
        "identities": [("slack_user_id", "HASH")],
    }.items():
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
        )
        tables[name] = TableAt(dynamodb, name)
    return tables
