"""Doctor's table checks: each table exists and is active, with the indexes Signoff queries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bot.doctor.findings import OUTPUT_TABLES, Finding
from bot.gateways.aws import error_code
from bot.gateways.dynamo import OPEN_INDEX, PERSON_INDEX, REQUESTER_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TABLE_LABELS = ("approvals", "audit", "identities", "idempotency")
# The indexes each table must have, and what fails without one (a stack deployed before it).
INDEXES = {
    "approvals": (
        (OPEN_INDEX, "the reconciler cannot find open cards and flow levels"),
        (REQUESTER_INDEX, "the Home tab cannot list a person's key requests"),
    ),
    "audit": ((PERSON_INDEX, "the Home tab cannot list what a person decided"),),
}


class TableChecks:
    """The four tables, by label."""

    def __init__(self, dynamodb: DynamoDBClient) -> None:
        self._dynamodb = dynamodb

    def check_tables(self, tables: Mapping[str, str]) -> list[Finding]:
        findings = []
        for label in TABLE_LABELS:
            name = tables.get(label)
            subject = f"{label} table {name or ''}".rstrip()
            if not name:
                findings.append(
                    Finding(
                        False,
                        subject,
                        "no table named",
                        f"pass --stack, or set SIGNOFF_{label.upper()}_TABLE",
                    )
                )
                continue
            try:
                table = self._dynamodb.describe_table(TableName=name)["Table"]
            except ClientError as exc:
                code = error_code(exc)
                detail = "does not exist" if code == "ResourceNotFoundException" else code
                findings.append(
                    Finding(
                        False,
                        subject,
                        detail,
                        f"deploy infra/template.yaml, or point SIGNOFF_{label.upper()}_TABLE at "
                        f"the stack output {OUTPUT_TABLES[label]}",
                    )
                )
                continue
            status = table["TableStatus"]
            ok = status in {"ACTIVE", "UPDATING"}
            findings.append(Finding(ok, subject, status.lower(), "" if ok else "wait, then rerun"))
            for index, without in INDEXES.get(label, ()):
                findings.append(_index(subject, table, index, without))
        return findings


def _index(subject: str, table: Mapping[str, Any], name: str, without: str) -> Finding:
    """One index Signoff queries; `without` says what fails when it is missing."""
    indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    index = indexes.get(name)
    where = f"{subject} index {name}"
    if index is None:
        fix = "deploy the current infra/template.yaml"
        return Finding(False, where, f"missing: {without}", fix)
    status = str(index.get("IndexStatus", "ACTIVE"))
    ok = status == "ACTIVE"
    return Finding(ok, where, status.lower(), "" if ok else "wait until DynamoDB has built it")
