"""Access-key domain objects: a request, the issuer's report, how a request ended. No secrets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class KeyRequest:
    """A validated request: who asks, for which IAM user, why; `execution_id` once started."""

    requester: str
    iam_user: str
    reason: str
    execution_id: str | None = None


class IssueKeyPayload(BaseModel):
    """What the runbook's aws:invokeLambdaFunction step sends the issuer."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    execution_id: str
    iam_user: str
    requester: str = ""
    reason: str = ""


class KeyStatus(StrEnum):
    """The issuer's verdict, as it reports it to SSM."""

    ISSUED = "issued"
    KEY_LIMIT = "key_limit"
    USER_NOT_FOUND = "user_not_found"
    OUT_OF_PATH = "out_of_path"  # no longer under KeyUserPath
    NOT_APPROVED = "not_approved"


@dataclass(frozen=True)
class KeyReport:
    """The issuer's return value: status, IAM user, secret name. Never a key, not even its id."""

    status: KeyStatus
    iam_user: str
    secret_name: str | None = None

    def payload(self) -> dict[str, str]:
        data = {"status": self.status.value, "iam_user": self.iam_user}
        return data | ({"secret_name": self.secret_name} if self.secret_name else {})

    @classmethod
    def loads(cls, text: str) -> KeyReport | None:
        """The report in a step's `Payload` output; None for anything else (a Lambda error)."""
        try:
            data = json.loads(text)
            secret = data.get("secret_name")
            return cls(KeyStatus(data["status"]), str(data["iam_user"]), secret and str(secret))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


class OutcomeKind(StrEnum):
    ISSUED = "issued"
    REFUSED = "refused"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True)
class KeyOutcome:
    """How one access-key request ended, in terms a requester understands."""

    kind: OutcomeKind
    execution_id: str
    iam_user: str
    requester: str
    secret_name: str | None = None
    refusal: KeyStatus | None = None
    decided_by: tuple[str, ...] = ()
    comment: str = ""
    failure: str = ""
