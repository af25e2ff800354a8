"""Access-key domain objects: a request, the issuer's report, how a request ended. No secrets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import msgspec

from bot.validation import convert

MAX_KEYS = 2  # IAM's quota of access keys per user: a request refuses, the issuer reports it
REASON_MAX = 500  # a request's reason: the form's limit and the command's

# What the runbook's step passes (infra/template.yaml), said in every refusal that names a key.
_ExecutionId = Annotated[
    str,
    msgspec.Meta(
        min_length=1, description="the runbook's execution id (`{{ automation:EXECUTION_ID }}`)"
    ),
]
_IamUser = Annotated[
    str, msgspec.Meta(min_length=1, description="the IAM user's name (`{{ IamUser }}`), as text")
]
_Text = Annotated[str, msgspec.Meta(description="text, or leave the key out")]


class KeyRequest(msgspec.Struct, frozen=True):
    """A validated request: who asks, for which IAM user, why; `execution_id` once started."""

    requester: str
    iam_user: str
    reason: str
    execution_id: str | None = None


class RecordedKeyRequest(msgspec.Struct, frozen=True):
    """A request as Signoff recorded it before starting its runbook, and the run it is bound to."""

    request_id: str
    requester: str
    iam_user: str
    reason: str
    execution_id: str | None = None


# A dataclass, not a Struct: Powertools' idempotency hashes dataclasses and pydantic models only.
@dataclass(frozen=True, kw_only=True)
class IssueKeyPayload:
    """What the runbook's aws:invokeLambdaFunction step sends the issuer."""

    execution_id: _ExecutionId
    iam_user: _IamUser
    requester: _Text = ""
    reason: _Text = ""

    @classmethod
    def from_event(cls, event: object) -> IssueKeyPayload:
        """The step's payload; InvalidPayload names every bad key, other keys are ignored."""
        return convert(event, cls)


class KeyStatus(StrEnum):
    """The issuer's verdict, as it reports it to SSM."""

    ISSUED = "issued"
    KEY_LIMIT = "key_limit"
    USER_NOT_FOUND = "user_not_found"
    OUT_OF_PATH = "out_of_path"  # no longer under KeyUserPath
    NOT_APPROVED = "not_approved"
    NOT_RECORDED = "not_recorded"  # a run Signoff did not start for a request it recorded


class KeyReport(msgspec.Struct, frozen=True):
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


class KeyOutcome(msgspec.Struct, frozen=True):
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
