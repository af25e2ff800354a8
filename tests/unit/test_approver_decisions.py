"""ApproverDecisions as SSM really returns it: the verdict under `Decision` (issue 24, bug 1).

The element shape comes from a real account (tests/fixtures/upstream/README.md); AWS documents
the output only as "a JSON map", so every plausible spelling of an entry must be read.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.flows.rules import task_output
from bot.gateways.automation import AutomationGateway
from bot.models import Outcome, Verdict

UPSTREAM = Path(__file__).parents[1] / "fixtures" / "upstream"
REAL_ELEMENT = (UPSTREAM / "ssm_approver_decisions_element.json").read_text().strip()
EXECUTION_ID = "00000000-0000-4000-8000-00000000abcd"
BOB = "arn:aws:sts::123456789012:assumed-role/SignoffApprover/U0BOB"


class FakeSsm:
    """GetAutomationExecution answering with one approve step whose outputs are given as-is.

    Not botocore's Stubber: it would refuse the object-shaped entries this file must feed.
    """

    def __init__(self, decisions: list[Any], status: str = "Success") -> None:
        self.decisions = decisions
        self.status = status

    def get_automation_execution(self, AutomationExecutionId: str) -> dict[str, Any]:
        return {
            "AutomationExecution": {
                "AutomationExecutionId": AutomationExecutionId,
                "DocumentName": "Signoff-AccessKey",
                "AutomationExecutionStatus": "Success",
                "StepExecutionsTruncated": False,
                "StepExecutions": [
                    {
                        "StepName": "ApproveKey",
                        "Action": "aws:approve",
                        "StepStatus": self.status,
                        "Inputs": {"Approvers": f'["{BOB}"]', "MinRequiredApprovals": "1"},
                        "Outputs": {
                            "ApprovalStatus": ["Approved"],
                            "ApproverDecisions": self.decisions,
                        },
                    }
                ],
            }
        }


def read(decisions: list[Any]) -> Any:
    gateway = AutomationGateway(FakeSsm(decisions), "us-east-1")  # type: ignore[arg-type]
    return gateway.get_approval(EXECUTION_ID)


def entry(**fields: str) -> dict[str, str]:
    return {"Approver": BOB, "ApprovalDecisionTime": "2026-11-23T10:15:00.123456Z", **fields}


def test_the_real_element_verbatim_is_read_as_an_approval() -> None:
    approval = read([REAL_ELEMENT])

    assert [(d.principal, d.verdict) for d in approval.decisions] == [("xxx", Verdict.APPROVE)]
    assert approval.decisions[0].comment == "Approve because it is valid"
    assert approval.decisions[0].at is not None
    assert approval.decisions[0].at.isoformat() == "2022-04-06T07:22:51.034463+00:00"
    assert approval.approved_by == ("xxx",)


@pytest.mark.parametrize("as_json", [True, False], ids=["json-string", "object"])
@pytest.mark.parametrize(
    ("fields", "verdict"),
    [
        ({"Decision": "Approve"}, Verdict.APPROVE),
        ({"Decision": "Reject"}, Verdict.REJECT),
        ({"ApprovalStatus": "Approve"}, Verdict.APPROVE),
        ({"ApprovalStatus": "Reject"}, Verdict.REJECT),
        ({"Decision": "Reject", "ApprovalStatus": "Reject"}, Verdict.REJECT),
        # The service's own key wins when both are there.
        ({"Decision": "Approve", "ApprovalStatus": "Reject"}, Verdict.APPROVE),
        # Spelled as the step's status, or in another case: still the same verdict.
        ({"Decision": "Approved"}, Verdict.APPROVE),
        ({"Decision": "rejected"}, Verdict.REJECT),
    ],
    ids=[
        "Decision-approve",
        "Decision-reject",
        "ApprovalStatus-approve",
        "ApprovalStatus-reject",
        "both",
        "both-disagreeing",
        "past-tense",
        "lower-case",
    ],
)
def test_each_spelling_of_the_verdict_is_read(
    fields: dict[str, str], verdict: Verdict, as_json: bool
) -> None:
    raw = entry(Comment="looks fine", **fields)

    approval = read([json.dumps(raw) if as_json else raw])

    assert [(d.principal, d.verdict, d.comment) for d in approval.decisions] == [
        (BOB, verdict, "looks fine")
    ]


@pytest.mark.parametrize("missing", ["Comment", "ApprovalDecisionTime", "Approver"])
@pytest.mark.parametrize("as_json", [True, False], ids=["json-string", "object"])
def test_an_entry_missing_one_other_key_is_kept(missing: str, as_json: bool) -> None:
    raw = entry(Decision="Approve", Comment="ok")
    del raw[missing]

    approval = read([json.dumps(raw) if as_json else raw])

    assert [d.verdict for d in approval.decisions] == [Verdict.APPROVE]


def test_an_approval_naming_no_approver_is_shown_but_not_counted_toward_the_quorum() -> None:
    # It could be anyone, the requester included: the issuer must not count it as another person.
    raw = entry(Decision="Approve")
    del raw["Approver"]

    approval = read([json.dumps(raw)])

    assert [(d.principal, d.verdict) for d in approval.decisions] == [("", Verdict.APPROVE)]
    assert approval.approved_by == ()


def test_an_entry_without_any_verdict_is_not_counted_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Neither key: counting it as either verdict would be a guess, and an approval that was not
    # one could issue a key. The other entries are still read.
    raw = [json.dumps(entry(Comment="no verdict")), json.dumps(entry(Decision="Approve"))]

    with caplog.at_level(logging.WARNING):
        approval = read(raw)

    assert [d.verdict for d in approval.decisions] == [Verdict.APPROVE]
    assert "ApproverDecisions entry without a verdict" in caplog.text


def test_a_whole_list_json_encoded_in_one_value_is_read_entry_by_entry() -> None:
    second = entry(Decision="Approve")
    second["Approver"] = "arn:aws:iam::123456789012:user/carol"
    both = json.dumps([json.loads(REAL_ELEMENT), second])

    approval = read([both])

    assert approval.approved_by == ("xxx", "arn:aws:iam::123456789012:user/carol")


def test_a_flow_level_records_who_decided_and_why_from_the_real_shape() -> None:
    approval = read([REAL_ELEMENT])

    output = task_output(approval, level=1)

    assert approval.outcome is Outcome.APPROVED
    assert output["decided_by"] == ["xxx"]
    assert output["comments"] == ["Approve because it is valid"]
    assert output["decisions"] == [
        {"principal": "xxx", "verdict": "Approve", "comment": "Approve because it is valid"}
    ]


# -- the step's own verdict (README, "Semantics AWS does not document": one Reject) -------------


@pytest.mark.parametrize(
    ("status", "outputs", "outcome"),
    [
        ("Success", {"ApprovalStatus": ["Approved"]}, Outcome.APPROVED),
        ("Failed", {"ApprovalStatus": ["Rejected"]}, Outcome.REJECTED),
        # Spelled as the signal, or in another case.
        ("Failed", {"ApprovalStatus": ["Reject"]}, Outcome.REJECTED),
        ("Success", {"ApprovalStatus": ["approved"]}, Outcome.APPROVED),
        # No ApprovalStatus output at all: the step's status and its decisions tell.
        ("Success", {}, Outcome.APPROVED),
        (
            "Failed",
            {"ApproverDecisions": ['{"Approver": "a", "Decision": "Reject"}']},
            Outcome.REJECTED,
        ),
        ("Failed", {}, Outcome.FAILED),
        # One Reject while the step still waits (if SSM waited for more): still open.
        (
            "Waiting",
            {"ApproverDecisions": ['{"Approver": "a", "Decision": "Reject"}']},
            Outcome.WAITING,
        ),
    ],
    ids=[
        "approved",
        "rejected",
        "signal-spelling",
        "lower-case",
        "success-without-output",
        "failed-with-a-reject",
        "failed-without-any",
        "waiting-with-a-reject",
    ],
)
def test_the_steps_outcome_is_read_from_whatever_ssm_gives(
    status: str, outputs: dict[str, list[str]], outcome: Outcome
) -> None:
    ssm = FakeSsm([], status=status)
    gateway = AutomationGateway(ssm, "us-east-1")  # type: ignore[arg-type]
    execution = ssm.get_automation_execution(EXECUTION_ID)
    execution["AutomationExecution"]["AutomationExecutionStatus"] = status
    execution["AutomationExecution"]["StepExecutions"][0]["Outputs"] = outputs
    ssm.get_automation_execution = lambda AutomationExecutionId: execution  # type: ignore[method-assign]

    assert gateway.get_approval(EXECUTION_ID).outcome is outcome
