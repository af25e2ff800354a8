"""Domain objects: what an approval, a decision, a flow and a mapped person are, free of AWS and
Slack.

Value classes here and across bot/ are frozen msgspec Structs, not dataclasses: @dataclass execs
generated code per class in every fresh process, about 1.5 ms each of a Lambda cold start.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

import msgspec


class Verdict(StrEnum):
    """A decision, spelled as SSM's SignalType spells it."""

    APPROVE = "Approve"
    REJECT = "Reject"


class Outcome(StrEnum):
    """Where an approval step stands."""

    WAITING = "Waiting"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    TIMED_OUT = "TimedOut"
    CANCELLED = "Cancelled"
    FAILED = "Failed"

    @property
    def is_open(self) -> bool:
        return self is Outcome.WAITING

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Outcome.WAITING: "Waiting for approval",
    Outcome.APPROVED: "Approved",
    Outcome.REJECTED: "Rejected",
    Outcome.TIMED_OUT: "Timed out",
    Outcome.CANCELLED: "Cancelled",
    Outcome.FAILED: "Failed",
}


class Decision(msgspec.Struct, frozen=True):
    """One approver's decision as SSM recorded it."""

    principal: str
    verdict: Verdict
    at: datetime | None = None
    comment: str = ""


class Approval(msgspec.Struct, frozen=True):
    """The authoritative state of one `aws:approve` step, read from SSM (never from a notice)."""

    execution_id: str
    step_name: str
    document_name: str
    region: str
    outcome: Outcome
    approvers: tuple[str, ...]
    min_required: int
    message: str = ""
    description: str = ""
    notification_arn: str | None = None
    executed_by: str | None = None
    started_at: datetime | None = None
    timeout_at: datetime | None = None
    decisions: tuple[Decision, ...] = ()
    parameters: Mapping[str, tuple[str, ...]] = msgspec.field(default_factory=dict)

    @property
    def approved_by(self) -> tuple[str, ...]:
        """Distinct principals that approved, in decision order.

        An approval whose entry names nobody is not a principal to count: it could be anyone,
        the requester included."""
        seen: dict[str, None] = {}
        for decision in self.decisions:
            if decision.verdict is Verdict.APPROVE and decision.principal:
                seen.setdefault(decision.principal)
        return tuple(seen)

    @property
    def ended_by_decisions(self) -> bool:
        """Approved or rejected by decisions it names: their own lines in the thread say how it
        ended (a timeout, a cancellation or a failure has no decision line to say it)."""
        if self.outcome is Outcome.APPROVED:
            return bool(self.approved_by)
        if self.outcome is Outcome.REJECTED:
            return any(d.verdict is Verdict.REJECT and d.principal for d in self.decisions)
        return False

    @property
    def progress(self) -> tuple[int, int]:
        """(approvals so far, approvals needed)."""
        return len(self.approved_by), self.min_required

    @property
    def rank(self) -> int:
        """A number that only grows as the step moves on; orders two reads of the same step."""
        return len(self.decisions) + (1000 if not self.outcome.is_open else 0)

    @property
    def console_url(self) -> str:
        return (
            f"https://{self.region}.console.aws.amazon.com/systems-manager/automation/"
            f"execution/{self.execution_id}?region={self.region}"
        )

    def parameter(self, name: str) -> str | None:
        values = self.parameters.get(name)
        return values[0] if values else None

    def decision_of(self, principal: str) -> Decision | None:
        return next((d for d in self.decisions if d.principal == principal), None)


class Identity(msgspec.Struct, frozen=True):
    """A Slack user mapped to the IAM role they act through (and the IAM user they are, if any)."""

    slack_user_id: str
    display_name: str
    role_arn: str | None = None
    iam_user: str | None = None

    @property
    def principal_arn(self) -> str | None:
        """What SSM sees when the bot assumes `role_arn` with the Slack user id as session name."""
        return assumed_role_arn(self.role_arn, self.slack_user_id) if self.role_arn else None


def assumed_role_arn(role_arn: str, session_name: str) -> str:
    """`arn:aws:iam::ACCT:role/path/Name` → `arn:aws:sts::ACCT:assumed-role/Name/session`."""
    partition, account, resource = _split_arn(role_arn)
    role_name = resource.rsplit("/", 1)[-1]
    return f"arn:{partition}:sts::{account}:assumed-role/{role_name}/{session_name}"


def principal_matches(approver: str, principal: str) -> bool:
    """Whether SSM counts `principal` (a caller ARN) as the `Approvers` entry `approver`.

    AWS accepts a user name, a user ARN, a role ARN (any session of the role) or an exact
    assumed-role ARN; this is the rule the sandbox engine follows too (docs/sandbox.md, Semantics).
    """
    if approver == principal:
        return True
    try:
        _, p_account, p_resource = _split_arn(principal)
    except ValueError:
        return False
    if not approver.startswith("arn:"):
        # A bare name in Approvers is an IAM user name.
        return p_resource.startswith("user/") and p_resource.rsplit("/", 1)[-1] == approver
    try:
        _, a_account, a_resource = _split_arn(approver)
    except ValueError:
        return False
    if a_account != p_account:
        return False
    if a_resource.startswith("role/") and p_resource.startswith("assumed-role/"):
        role_name = a_resource.rsplit("/", 1)[-1]
        return p_resource.split("/")[1] == role_name
    return False


def _split_arn(arn: str) -> tuple[str, str, str]:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[1], parts[4], parts[5]


class CardRef(msgspec.Struct, frozen=True):
    """Where an approval's card lives in Slack."""

    channel: str
    ts: str


class DecisionTarget(msgspec.Struct, frozen=True):
    """What a decision modal decides on; round-trips through private_metadata (opaque ids only)."""

    execution_id: str
    step_name: str | None
    verdict: Verdict
    channel: str
    ts: str

    def dumps(self) -> str:
        return json.dumps(
            {
                "execution_id": self.execution_id,
                "step": self.step_name,
                "verdict": self.verdict.value,
                "channel": self.channel,
                "ts": self.ts,
            }
        )

    @classmethod
    def loads(cls, raw: str) -> DecisionTarget:
        data = json.loads(raw)
        return cls(
            execution_id=str(data["execution_id"]),
            step_name=data.get("step"),
            verdict=Verdict(data["verdict"]),
            channel=str(data["channel"]),
            ts=str(data["ts"]),
        )


# -- Multi-level flows (flow B): a parent Step Functions execution and its levels -------------


class LevelState(msgspec.Struct, frozen=True):
    """One level as the ladder shows it; `outcome` None means the level has not started."""

    level: int
    outcome: Outcome | None = None
    done: int = 0
    needed: int = 0
    approved_by: tuple[str, ...] = ()
    rejected_by: tuple[str, ...] = ()


class FlowState(msgspec.Struct, frozen=True):
    """A parent execution (the flow) and its levels, one LevelState each, 1..N in order."""

    flow_id: str
    levels: tuple[LevelState, ...]
    description: str = ""
    outcome: Outcome = Outcome.WAITING
    # Which of the levels' deciders are people, by Signoff's mapping (see
    # bot.views.text.principal_label).
    people: dict[str, str] = {}

    @property
    def name(self) -> str:
        return flow_name(self.flow_id)

    @property
    def console_url(self) -> str:
        return flow_console_url(self.flow_id)

    def deciding_level(self) -> LevelState | None:
        """The level that ended the flow (or the one it waits on while it runs)."""
        # A running or approved flow has no level that ended it: look for the waiting one.
        ended_by_level = self.outcome not in {Outcome.WAITING, Outcome.APPROVED}
        target = self.outcome if ended_by_level else Outcome.WAITING
        return next((level for level in self.levels if level.outcome is target), None)


def flow_console_url(flow_id: str) -> str:
    region = flow_id.split(":")[3] if flow_id.count(":") >= 6 else "us-east-1"
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{flow_id}"
    )


def flow_name(flow_id: str) -> str:
    """`arn:aws:states:…:execution:Machine:run-1` reads as `Machine/run-1`."""
    parts = flow_id.split(":")
    if len(parts) >= 8 and parts[5] == "execution":
        return f"{parts[6]}/{parts[7]}"
    return flow_id


# -- The App Home tab: what one person sees (bot/home.py gathers it, bot/views/home.py draws it)


class Waiting(msgspec.Struct, frozen=True):
    """An approval the person may decide and has not, with where its card is."""

    approval: Approval
    card: CardRef
    since: datetime
    level: int | None = None
    levels: int | None = None
    flow_id: str | None = None


class Request(msgspec.Struct, frozen=True):
    """A key request the person made and where it stands (None: its run has not started)."""

    iam_user: str
    reason: str
    execution_id: str | None
    state: Outcome | None
    at: datetime | None = None


class Decided(msgspec.Struct, frozen=True):
    """A decision the person sent from Slack, as the audit trail has it."""

    execution_id: str
    step_name: str
    verdict: Verdict
    at: datetime
    comment: str = ""
    document_name: str = ""  # unknown for decisions recorded before it was written down


class MappedAs(StrEnum):
    """How the identities table maps the person, as far as deciding goes."""

    APPROVER = "approver"  # to an approver role: approvals can wait for them
    IAM_USER_ONLY = "iam_user_only"  # to an IAM user (access keys) but to no approver role
    NONE = "none"


class HomeState(msgspec.Struct, frozen=True):
    """Everything one person's Home tab shows."""

    user: str
    waiting: tuple[Waiting, ...] = ()
    waiting_total: int = 0
    requests: tuple[Request, ...] = ()
    decided: tuple[Decided, ...] = ()
    mapping: MappedAs = MappedAs.APPROVER
    iam_user: str | None = None
