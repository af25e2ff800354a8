"""What doctor reports (a Finding per check) and what it checks (a Target's names and ARNs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.config import Settings

# The stack outputs `signoff doctor --stack` reads (infra/template.yaml, Outputs).
OUTPUT_TABLES = {
    "approvals": "ApprovalsTableName",
    "audit": "AuditTableName",
    "identities": "IdentitiesTableName",
    "idempotency": "IdempotencyTableName",
}


@dataclass(frozen=True)
class Finding:
    """One check: what was looked at, what was found, and (when wrong) how to fix it."""

    ok: bool
    subject: str
    detail: str
    fix: str = ""

    def render(self) -> str:
        mark = "✓" if self.ok else "✗"
        text = f"{mark} {self.subject}: {self.detail}"
        return text if self.ok or not self.fix else f"{text}\n    fix: {self.fix}"


@dataclass(frozen=True)
class Target:
    """What to check: names and ARNs of one deployment (from stack outputs, settings or flags)."""

    tables: Mapping[str, str] = field(default_factory=dict)
    slack_secret_arn: str | None = None
    bot_role_arn: str | None = None
    notice_function_arn: str | None = None
    topic_arns: tuple[str, ...] = ()


def target_from_outputs(outputs: Mapping[str, str]) -> Target:
    """A Target from the stack's outputs (infra/template.yaml)."""
    topics = tuple(t for t in outputs.get("AutomationTopicArns", "").split(",") if t)
    return Target(
        tables={label: outputs[key] for label, key in OUTPUT_TABLES.items() if key in outputs},
        slack_secret_arn=outputs.get("SlackSecretArn"),
        bot_role_arn=outputs.get("BotRoleArn"),
        notice_function_arn=outputs.get("ApprovalNoticeFunctionArn"),
        topic_arns=topics,
    )


def target_from_settings(settings: Settings) -> Target:
    """A Target from the same environment variables the functions read."""
    return Target(
        tables={
            "approvals": settings.approvals_table,
            "audit": settings.audit_table,
            "identities": settings.identities_table,
            "idempotency": settings.idempotency_table,
        },
        slack_secret_arn=settings.slack_secret_arn,
    )
