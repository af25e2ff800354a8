"""Doctor's table checks: each table exists and is active; the approvals table has the Open index
the reconciler queries, and no waiting card or level is left outside it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bot.doctor.findings import OUTPUT_TABLES, Finding
from bot.errors import ServiceError
from bot.gateways.aws import error_code
from bot.gateways.dynamo import OPEN_INDEX, TableAt
from bot.gateways.flowstore import FlowStore
from bot.gateways.tables import ApprovalStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TABLE_LABELS = ("approvals", "audit", "identities", "idempotency")


class TableChecks:
    """The four tables, by label."""

    def __init__(self, dynamodb: DynamoDBClient, now: Callable[[], datetime]) -> None:
        self._dynamodb = dynamodb
        self._now = now

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
            if label == "approvals":
                index = _open_index(subject, table)
                findings.append(self._unindexed(name, index) if index.ok else index)
        return findings

    def _unindexed(self, table: str, index: Finding) -> Finding:
        """The index's finding, wrong while cards or levels written before it still wait
        outside it (a stack upgraded from before the index, not yet backfilled)."""
        at = TableAt(self._dynamodb, table)
        try:
            outside = (
                ApprovalStore(at, self._now).cards_outside_index()
                + FlowStore(at, self._now).levels_outside_index()
            )
        except ServiceError as failed:
            return Finding(
                False,
                index.subject,
                f"could not look for cards written before it: {failed}",
                f"run doctor with credentials that may dynamodb:Scan {table}",
            )
        if not outside:
            return index
        return Finding(
            False,
            index.subject,
            f"{outside} waiting cards or flow levels were written before it and are not in it",
            "signoff backfill-open-index",
        )


def _open_index(subject: str, table: Mapping[str, Any]) -> Finding:
    """The approvals table's Open index, which the reconciler queries for what still waits."""
    indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    index = indexes.get(OPEN_INDEX)
    where = f"{subject} index {OPEN_INDEX}"
    if index is None:
        return Finding(
            False,
            where,
            "missing: the reconciler cannot find open cards and flow levels",
            "deploy the current infra/template.yaml",
        )
    status = str(index.get("IndexStatus", "ACTIVE"))
    ok = status == "ACTIVE"
    return Finding(ok, where, status.lower(), "" if ok else "wait until DynamoDB has built it")
