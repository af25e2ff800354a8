"""DynamoDB tables for tests that build the services on moto themselves."""

from __future__ import annotations

from typing import Any


def signoff_tables(dynamodb: Any) -> dict[str, Any]:
    """The approvals, audit and identities tables, keyed as the template keys them (inside a
    moto mock the caller opened)."""
    tables = {}
    for name, keys in {
        "approvals": [("pk", "HASH"), ("sk", "RANGE")],
        "audit": [("pk", "HASH"), ("sk", "RANGE")],
        "identities": [("slack_user_id", "HASH")],
    }.items():
        tables[name] = dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
        )
    return tables
