import pytest
from msgspec.structs import replace

from bot.models import Approval, Decision, Identity, Outcome, Verdict, principal_matches

ACCT = "123456789012"
ROLE = f"arn:aws:iam::{ACCT}:role/SignoffApprover"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0ALICE"


@pytest.mark.parametrize(
    ("approver", "principal", "expected"),
    [
        (ROLE, SESSION, True),  # a role ARN matches any session of the role
        (SESSION, SESSION, True),  # an exact assumed-role ARN matches that session
        (f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0BOB", SESSION, False),
        (f"arn:aws:iam::{ACCT}:role/Other", SESSION, False),
        ("arn:aws:iam::999999999999:role/SignoffApprover", SESSION, False),  # other account
        ("alice", f"arn:aws:iam::{ACCT}:user/alice", True),  # a bare name is an IAM user name
        ("alice", f"arn:aws:iam::{ACCT}:user/ops/alice", True),
        ("alice", SESSION, False),
        (f"arn:aws:iam::{ACCT}:user/alice", f"arn:aws:iam::{ACCT}:user/alice", True),
        ("SignoffApprover", SESSION, False),  # a bare name never matches a role session
    ],
)
def test_principal_matching_follows_ssm_approver_formats(
    approver: str, principal: str, expected: bool
) -> None:
    assert principal_matches(approver, principal) is expected


def test_identity_acts_as_a_session_named_after_the_slack_user() -> None:
    identity = Identity("U0ALICE", "alice", role_arn=f"arn:aws:iam::{ACCT}:role/team/Approver")
    assert identity.principal_arn == f"arn:aws:sts::{ACCT}:assumed-role/Approver/U0ALICE"
    assert Identity("U0DAVE", "dave", iam_user="dave").principal_arn is None


def test_progress_counts_distinct_approving_principals() -> None:
    approval = Approval(
        execution_id="e",
        step_name="s",
        document_name="d",
        region="us-east-1",
        outcome=Outcome.WAITING,
        approvers=(ROLE,),
        min_required=2,
        decisions=(
            Decision(SESSION, Verdict.APPROVE),
            Decision(SESSION, Verdict.APPROVE),
            Decision(f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0BOB", Verdict.APPROVE),
        ),
    )
    assert approval.progress == (2, 2)
    assert approval.rank < replace(approval, outcome=Outcome.APPROVED).rank


@pytest.mark.parametrize(
    ("outcome", "decisions", "told_by_decisions"),
    [
        (Outcome.APPROVED, (Decision(SESSION, Verdict.APPROVE),), True),
        (Outcome.REJECTED, (Decision(SESSION, Verdict.REJECT, comment="no"),), True),
        # SSM said approved, but no decision it returned names anyone: the ending needs a line.
        (Outcome.APPROVED, (Decision("", Verdict.APPROVE),), False),
        (Outcome.APPROVED, (), False),
        (Outcome.TIMED_OUT, (Decision(SESSION, Verdict.APPROVE),), False),
        (Outcome.CANCELLED, (), False),
        (Outcome.FAILED, (), False),
        (Outcome.WAITING, (Decision(SESSION, Verdict.APPROVE),), False),
    ],
)
def test_an_ending_is_told_by_its_decisions_only_when_they_name_who_decided(
    outcome: Outcome, decisions: tuple[Decision, ...], told_by_decisions: bool
) -> None:
    approval = Approval(
        execution_id="e",
        step_name="s",
        document_name="d",
        region="us-east-1",
        outcome=outcome,
        approvers=(ROLE,),
        min_required=1,
        decisions=decisions,
    )
    assert approval.ended_by_decisions is told_by_decisions
