"""DynamoDB tables for tests that build the services on moto themselves, keyed and indexed as
infra/template.yaml defines them."""

from __future__ import annotations

from functools import cache
from typing import Any

from bot.gateways.dynamo import OPEN_KIND, TableAt
from sandbox.template import load_template

# Each table's logical id in the template.
LOGICAL_IDS = {
    "approvals": "ApprovalsTable",
    "audit": "AuditTable",
    "identities": "IdentitiesTable",
    "idempotency": "IdempotencyTable",
}
_SCHEMA = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")


@cache
def _properties(logical_id: str) -> dict[str, Any]:
    properties = load_template()["Resources"][logical_id]["Properties"]
    return {k: properties[k] for k in _SCHEMA if k in properties}


def create_table(dynamodb: Any, kind: str, name: str) -> TableAt:
    """Create the `kind` table ("approvals", "audit"…) as the template has it, named `name`."""
    dynamodb.create_table(TableName=name, **_properties(LOGICAL_IDS[kind]))
    return TableAt(dynamodb, name)


def signoff_tables(dynamodb: Any) -> dict[str, TableAt]:
    """The approvals, audit and identities tables on a low-level DynamoDB client (inside a moto
    mock the caller opened), each named by its kind."""
    return {
        kind: create_table(dynamodb, kind, kind) for kind in ("approvals", "audit", "identities")
    }


def not_yet_in_the_open_index(table: TableAt, pk: str, sk: str) -> None:
    """Make an item look as the Open index sees it before the write reached it (the index is
    eventually consistent): without OPEN_KIND."""
    table.client.update_item(
        TableName=table.name,
        Key={"pk": {"S": pk}, "sk": {"S": sk}},
        UpdateExpression=f"REMOVE {OPEN_KIND}",
    )
