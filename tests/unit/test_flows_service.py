"""FlowService and FlowTracker: start a level, one thread per flow, each task completed once."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import boto3
import msgspec
import pytest
from moto import mock_aws

from bot.approvals import ApprovalService
from bot.errors import InvalidPayload, ServiceError, TransientError
from bot.flows.payload import StartApprovalRequest
from bot.flows.rules import flow_outcome_after
from bot.flows.service import FlowService, InvalidFlowInput
from bot.flows.tracker import FlowTracker
from bot.gateways.flowstore import FlowStore
from bot.gateways.slack import reply_key
from bot.gateways.stepfunctions import TaskClosed
from bot.gateways.tables import ApprovalStore, AuditLog, IdentityStore
from bot.models import Decision, Identity, Outcome, Verdict
from tests.support.dynamo import signoff_tables
from tests.support.fakes import FakeAutomation, FakeSfn, FakeSlack, Message

ACCT = "123456789012"
REGION = "us-east-1"
DOCUMENT = "Signoff-Approval"
FLOW = f"arn:aws:states:{REGION}:{ACCT}:execution:ApprovalFlow:deploy-42"
ROLE = f"arn:aws:iam::{ACCT}:role/SignoffApprover"
ALICE = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0ALICE"
BOB = f"arn:aws:sts::{ACCT}:assumed-role/SignoffApprover/U0BOB"
CAROL_ELSEWHERE = f"arn:aws:sts::{ACCT}:assumed-role/SomeOtherRole/U0CAROL"
DEFAULT = "C0DEFAULT"
ROUTES = {
    "AutomationLevel1": "C0LEVEL1",
    "AutomationLevel2": "C0LEVEL1",
    "AutomationLevel3": "C0SEC",
}
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


def topic(level: int) -> str:
    return f"arn:aws:sns:{REGION}:{ACCT}:AutomationLevel{level}"


def token(level: int) -> str:
    return f"TASKTOKEN-level{level}-" + "s" * 200


def channel_for(*keys: str | None) -> str:
    for key in keys:
        if key and key.rsplit(":", 1)[-1] in ROUTES:
            return ROUTES[key.rsplit(":", 1)[-1]]
    return DEFAULT


# -- the world of one test -------------------------------------------------------------------


@dataclass
class Flows:
    service: FlowService
    tracker: FlowTracker
    approvals: ApprovalService
    automation: FakeAutomation
    slack: FakeSlack
    sfn: FakeSfn
    store: FlowStore
    audit: AuditLog
    clock: list[datetime]
    identities: IdentityStore

    def request(self, level: int, levels: int = 3, **changes: Any) -> StartApprovalRequest:
        data: dict[str, Any] = {
            "token": token(level),
            "step": "InvokeLambdaForSsmStartAutomationExecution",
            "flow_id": FLOW,
            "level": level,
            "levels": levels,
            "ssm_doc_name": DOCUMENT,
            "ssm_description": "Deploy build 42",
            "ssm_message": f"Level {level}: please review",
            "ssm_notification_arn": topic(level),
            "ssm_approvers": ROLE,
            "ssm_min_required_approvals": "1",
        }
        data.update(changes)
        return StartApprovalRequest.from_event(data)

    def start(self, level: int, levels: int = 3, **changes: Any) -> str:
        """Start a level; then its step's SNS notice arrives (NoticeService → announce).

        A notice that fails on Slack raises out of its Lambda and SNS delivers it again later
        (or the reconciler posts the card): that is the notice's failure, not the start's.
        """
        result = self.service.start(self.request(level, levels, **changes))
        assert result["result"] == "started", result
        execution_id = str(result["execution_id"])
        with contextlib.suppress(ServiceError):
            self.approvals.announce(execution_id)
        return execution_id

    def close(self, execution_id: str, outcome: Outcome, *decisions: Decision) -> None:
        """SSM closes the step; then the EventBridge event arrives (ResultService → refresh)."""
        self.automation.decide(execution_id, outcome, *decisions)
        self.approvals.refresh(execution_id)

    def root(self) -> Message:
        flow = self.store.flow(FLOW)
        assert flow is not None and flow.root is not None
        return self.slack.find(flow.root)


@pytest.fixture
def flows() -> Iterator[Flows]:
    with mock_aws():
        tables = signoff_tables(boto3.client("dynamodb", region_name=REGION))
        clock = [NOW]

        def now() -> datetime:
            return clock[0]

        automation, slack, sfn = FakeAutomation(), FakeSlack(), FakeSfn()
        store = FlowStore(tables["approvals"], now)
        audit = AuditLog(tables["audit"], now)
        identities = IdentityStore(tables["identities"])
        for user in ("ALICE", "BOB", "CAROL"):
            identities.put(Identity(f"U0{user}", user.lower(), role_arn=ROLE))
        tracker = FlowTracker(
            flows=store,
            identities=identities,
            sfn=sfn,  # type: ignore[arg-type]
            slack=slack,  # type: ignore[arg-type]
            audit=audit,
            channel_for=channel_for,
            now=now,
            document=DOCUMENT,
        )
        approvals = ApprovalService(
            automation=automation,  # type: ignore[arg-type]
            signals=None,  # type: ignore[arg-type]
            store=ApprovalStore(tables["approvals"], now),
            identities=identities,
            audit=audit,
            slack=slack,  # type: ignore[arg-type]
            route=lambda a: channel_for(a.notification_arn, a.document_name),
            now=now,
            reminder_before=timedelta(hours=1),
            flows=tracker,
        )
        service = FlowService(
            approvals=approvals,
            automation=automation,  # type: ignore[arg-type]
            sfn=sfn,  # type: ignore[arg-type]
            flows=store,
            audit=audit,
            document=DOCUMENT,
            default_channel=DEFAULT,
            channel_for=channel_for,
            now=now,
        )
        yield Flows(
            service, tracker, approvals, automation, slack, sfn, store, audit, clock, identities
        )


# -- starting a level --------------------------------------------------------------------------


def test_start_runs_the_approval_document_with_the_token_and_records_the_flow(
    flows: Flows,
) -> None:
    execution_id = flows.start(1, ssm_approvers=f'["{ROLE}", "alice"]')
    document, parameters = flows.automation.started[0]
    assert document == DOCUMENT
    # SSM gets an opaque handle; the token stays in Signoff's table, bound to this execution.
    assert "SfnToken" not in parameters and token(1) not in json.dumps(parameters)
    [handle] = parameters["SignoffHandle"]
    task = flows.store.handle(handle)
    assert task is not None and task.execution_id == execution_id
    assert task.token.get_secret_value() == token(1)
    assert parameters["Approvers"] == [ROLE, "alice"]
    assert parameters["MinRequiredApprovals"] == ["1"]
    assert parameters["NotificationArn"] == [topic(1)]
    member = flows.store.member(execution_id)
    assert member is not None and (member.flow_id, member.level, member.levels) == (FLOW, 1, 3)
    flow = flows.store.flow(FLOW)
    assert flow is not None and flow.levels == 3 and flow.channel == "C0LEVEL1"


def test_the_root_goes_to_the_level_1_channel_and_each_card_into_its_thread(
    flows: Flows,
) -> None:
    first = flows.start(1)
    flows.close(first, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE, comment="ok"))
    second = flows.start(2)
    roots = flows.slack.top_level("C0LEVEL1")
    assert len(roots) == 1, "one root message per flow"
    root = roots[0]
    assert "Approval flow: ApprovalFlow/deploy-42" in json.dumps(root.blocks)
    cards = [m for m in flows.slack.thread(root) if m.blocks]
    lines = [c.blocks[0]["text"]["text"] for c in cards]
    assert [line.split(" (<", 1)[0] for line in lines] == [
        ":white_check_mark: *Level 1 of 3*",
        ":hourglass_flowing_sand: *Level 2 of 3*",
    ]
    assert first != second
    assert "level 1 ✓ approved by <@U0ALICE> · level 2 ⏳ 0 of 1 · level 3 \u2013" in root.text


def test_a_flow_first_seen_at_a_later_level_opens_its_thread_in_the_default_channel(
    flows: Flows,
) -> None:
    flows.start(2)
    assert len(flows.slack.top_level(DEFAULT)) == 1


def test_a_level_whose_channel_differs_gets_a_pointer_that_ends_with_the_level(
    flows: Flows,
) -> None:
    for level in (1, 2):
        flows.close(flows.start(level), Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))
    assert flows.slack.top_level("C0SEC") == [], "levels 1 and 2 share the thread's channel"
    third = flows.start(3)
    pointers = flows.slack.top_level("C0SEC")
    assert len(pointers) == 1 and "approval_approve" not in json.dumps(pointers[0].blocks)
    assert "Level 3 of 3" in pointers[0].text and "<#C0LEVEL1>" in pointers[0].text
    root = flows.root()
    link = f"https://signoff.example/archives/C0LEVEL1/p{root.ts.replace('.', '')}"
    assert f"<{link}|the flow's thread>" in pointers[0].text
    flows.close(third, Outcome.APPROVED, Decision(BOB, Verdict.APPROVE))
    flows.approvals.refresh(third)  # a duplicate event changes nothing
    assert "approved by <@U0BOB>" in pointers[0].text
    assert len(pointers[0].history) == 1, "updated once, when the level ended"
    assert len(flows.slack.top_level("C0SEC")) == 1


def test_a_pointer_names_the_threads_channel_when_slack_gives_no_permalink(
    flows: Flows,
) -> None:
    for level in (1, 2):
        flows.close(flows.start(level), Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))
    flows.slack.no_permalinks = True

    flows.start(3)  # the flow goes on; the pointer says where instead of linking

    [pointer] = flows.slack.top_level("C0SEC")
    assert "Its card is in the flow's thread in <#C0LEVEL1>." in pointer.text
    assert "<http" not in pointer.text


def test_an_unanswered_pointer_post_is_adopted_not_posted_again(flows: Flows) -> None:
    for level in (1, 2):
        flows.close(flows.start(level), Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))
    flows.slack.unanswered_in = "C0SEC"  # the pointer lands, its answer is lost

    third = flows.start(3, ssm_min_required_approvals="2")
    flows.approvals.refresh(third)  # the next event looks for it instead of posting again

    [pointer] = flows.slack.top_level("C0SEC")
    level = next(lv for lv in flows.store.levels(FLOW) if lv.level == 3)
    assert level.pointer_ts == pointer.ts
    flows.close(
        third, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE), Decision(BOB, Verdict.APPROVE)
    )
    assert "approved by <@U0ALICE>, <@U0BOB>" in pointer.text
    assert len(flows.slack.top_level("C0SEC")) == 1


def test_an_unanswered_root_post_is_found_not_posted_again(flows: Flows) -> None:
    flows.slack.unanswered = True
    execution_id = flows.start(1)  # the card waits for the root; the approval runs
    [root] = flows.slack.top_level("C0LEVEL1")
    assert flows.store.flow(FLOW).root is None  # type: ignore[union-attr]

    flows.approvals.announce(execution_id)  # the SNS notice: the root is found, the card posted

    assert flows.slack.top_level("C0LEVEL1") == [root]
    assert flows.root() is root
    assert [m for m in flows.slack.thread(root) if m.blocks]


def test_starting_a_level_calls_no_slack(flows: Flows) -> None:
    # Step Functions waits on the start: the card and the root come from the step's notice.
    result = flows.service.start(flows.request(1))

    assert result["result"] == "started" and flows.automation.started
    assert flows.slack.messages == []
    flows.approvals.announce(str(result["execution_id"]))
    root = flows.root()
    assert [m for m in flows.slack.thread(root) if m.blocks]


def test_a_retried_invocation_starts_nothing_twice(flows: Flows) -> None:
    first = flows.service.start(flows.request(1))
    again = flows.service.start(flows.request(1))
    assert len(flows.automation.started) == 1
    assert again["result"] == "already_started"
    assert again["execution_id"] == first["execution_id"]
    flows.approvals.announce(str(first["execution_id"]))
    flows.approvals.announce(str(again["execution_id"]))
    root = flows.slack.top_level("C0LEVEL1")[0]
    assert len([m for m in flows.slack.thread(root) if m.blocks]) == 1


def test_a_claim_left_by_a_dead_invocation_is_taken_over(flows: Flows) -> None:
    from bot.flows.rules import task_key

    claim = flows.store.task_claim(task_key(token(1)))
    dead = flows.store.task_claims(NOW).take(
        claim, flow_id=FLOW, level=1, levels=3, handle="h" * 32
    )
    assert dead
    assert flows.service.start(flows.request(1))["result"] == "already_busy"
    flows.clock[0] = NOW + timedelta(minutes=5)
    assert flows.service.start(flows.request(1))["result"] == "started"


def test_slack_being_down_does_not_stop_the_approval(flows: Flows) -> None:
    flows.slack.down = True
    execution_id = flows.start(1)
    assert flows.automation.started and flows.slack.messages == []
    flows.slack.down = False
    # The SNS notice (or the reconciler) posts the card later, in the flow's thread.
    flows.approvals.announce(execution_id)
    root = flows.slack.top_level("C0LEVEL1")[0]
    assert "Approval flow" in root.text
    assert [m for m in flows.slack.thread(root) if m.blocks]


def test_another_document_name_fails_the_task_with_invalid_input(flows: Flows) -> None:
    result = flows.service.start(flows.request(1, ssm_doc_name="SsmDocumentForApprovalAction"))
    assert result["result"] == "invalid_input" and not flows.automation.started
    kind, sent_token, body = flows.sfn.calls[0]
    assert (kind, sent_token, body["error"]) == ("failure", token(1), "Signoff.InvalidInput")
    assert "ssm_doc_name" in body["cause"] and "'Signoff-Approval'" in body["cause"]
    # Leaving the key out fails the parent's own state (States.Runtime): advise what works.
    assert "leave ssm_doc_name out" not in body["cause"]
    assert 'set ssm_doc_name to "Signoff-Approval" or to ""' in body["cause"]


def test_an_empty_document_name_starts_signoffs_document(flows: Flows) -> None:
    flows.start(1, ssm_doc_name="")

    assert [document for document, _ in flows.automation.started] == [DOCUMENT]


def test_ssm_refusing_the_parameters_fails_the_task_with_its_reason(flows: Flows) -> None:
    flows.automation.refuse = "MinRequiredApprovals can't exceed the number of approvers"
    result = flows.service.start(flows.request(1, ssm_min_required_approvals=3))
    assert result["result"] == "invalid_input"
    assert flows.sfn.calls[0][2]["error"] == "Signoff.InvalidInput"
    assert "can't exceed the number of approvers" in flows.sfn.calls[0][2]["cause"]
    again = flows.service.start(flows.request(1, ssm_min_required_approvals=3))
    assert again["result"] == "already_started" and len(flows.sfn.calls) == 1


def test_a_malformed_payload_fails_its_task_naming_the_field(flows: Flows) -> None:
    event = msgspec.structs.asdict(flows.request(2)) | {"token": token(2), "ssm_approvers": ""}
    with pytest.raises(InvalidPayload) as invalid:
        StartApprovalRequest.from_event(event)
    result = flows.service.refuse_payload(event, invalid.value)
    assert result["error"] == "Signoff.InvalidInput"
    kind, sent_token, body = flows.sfn.calls[0]
    assert kind == "failure" and sent_token == token(2)
    assert body["cause"].startswith("Signoff cannot start this approval: ssm_approvers")
    assert [e["event"] for e in flows.audit.events(FLOW)] == ["invalid_input"]


def test_a_payload_without_a_token_fails_the_invocation_itself(flows: Flows) -> None:
    event = {"flow_id": FLOW, "level": 1, "levels": 3}
    with pytest.raises(InvalidPayload) as invalid:
        StartApprovalRequest.from_event(event)
    with pytest.raises(InvalidFlowInput, match="token is missing"):
        flows.service.refuse_payload(event, invalid.value)
    assert flows.sfn.calls == []


# -- completing the task -------------------------------------------------------------------


def test_approved_completes_the_task_once_with_who_decided(flows: Flows) -> None:
    execution_id = flows.start(1)
    flows.close(execution_id, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE, comment="LGTM"))
    flows.approvals.refresh(execution_id)  # EventBridge delivers twice
    flows.approvals.refresh(execution_id)
    assert len(flows.sfn.calls) == 1
    kind, sent_token, output = flows.sfn.calls[0]
    assert (kind, sent_token) == ("success", token(1))
    assert output["is_approved"] is True
    assert output["decided_by"] == [ALICE]
    assert output["slack_users"] == {ALICE: "U0ALICE"}
    assert output["comments"] == ["LGTM"]
    assert output["level"] == 1 and output["approval_execution_id"] == execution_id


def test_a_level_decided_by_a_session_merely_named_like_a_person_shows_the_principal(
    flows: Flows,
) -> None:
    # Carol is mapped, to SignoffApprover; anyone who may assume SomeOtherRole can name a
    # session U0CAROL. The ladder, the thread and the task's output must not call that carol.
    first = flows.start(1)
    flows.close(first, Outcome.APPROVED, Decision(CAROL_ELSEWHERE, Verdict.APPROVE))
    second = flows.start(2)
    flows.close(second, Outcome.REJECTED, Decision(CAROL_ELSEWHERE, Verdict.REJECT))

    shown = "`assumed-role/SomeOtherRole/U0CAROL`"
    root = flows.root()
    assert f"level 1 ✓ approved by {shown} · level 2 ✗ rejected by {shown}" in root.text
    thread = [m.text for m in flows.slack.thread(root)]
    said = [text for text in thread if "*Flow" in text]
    assert said == [
        f":no_entry: *Flow rejected* at level 2 of 3 by {shown}. Level 3 will not start."
    ]
    # Carol is listed among who may decide (she is mapped to the approver role), never as
    # the one who decided: leave the card's fields (the approvers list) out of the search.
    everything = json.dumps(
        [[m.text, [b for b in m.blocks if "fields" not in b]] for m in flows.slack.messages]
    )
    assert "<@U0CAROL>" not in everything
    output = flows.sfn.calls[-1][2]
    # As SSM recorded it, and no person beside it: the mapping does not vouch for this one.
    assert output["decided_by"] == [CAROL_ELSEWHERE] and output["slack_users"] == {}


def test_a_mapping_that_cannot_be_read_does_not_hold_the_task_up_and_names_nobody(
    flows: Flows,
) -> None:
    execution_id = flows.start(1)

    def unreadable(*args: Any, **kwargs: Any) -> None:
        raise TransientError("DynamoDB did not answer GetItem")

    with patch.object(flows.identities, "get", unreadable), pytest.raises(ServiceError):
        # The task is completed first; the ladder, which names people, waits for a retry.
        flows.close(execution_id, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))

    [(kind, _, output)] = flows.sfn.calls
    assert kind == "success" and output["is_approved"] is True
    assert output["decided_by"] == [ALICE] and output["slack_users"] == {}


def test_rejected_completes_the_task_with_false_and_ends_the_flow(flows: Flows) -> None:
    first = flows.start(1)
    flows.close(first, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))
    second = flows.start(2, ssm_min_required_approvals=2)
    flows.close(
        second,
        Outcome.REJECTED,
        Decision(ALICE, Verdict.APPROVE),
        Decision(BOB, Verdict.REJECT, comment="not today"),
    )
    flows.approvals.refresh(second)
    output = flows.sfn.calls[-1][2]
    assert output["is_approved"] is False
    assert output["decided_by"] == [ALICE, BOB] and output["comments"] == ["not today"]
    root = flows.root()
    outcomes = [m for m in flows.slack.thread(root) if "*Flow" in m.text]
    assert [m.text for m in outcomes] == [
        ":no_entry: *Flow rejected* at level 2 of 3 by <@U0BOB>. Level 3 will not start."
    ]
    assert outcomes[0].key == reply_key(FLOW, "outcome")
    assert "level 2 ✗ rejected by <@U0BOB>" in root.text
    assert "*Rejected* at level 2 of 3" in json.dumps(root.blocks, ensure_ascii=False)


@pytest.mark.parametrize(
    ("outcome", "error", "words"),
    [
        (Outcome.TIMED_OUT, "Signoff.ApprovalTimedOut", "timed out with 0 of 1 approvals"),
        (Outcome.CANCELLED, "Signoff.ApprovalCancelled", "was cancelled"),
        (Outcome.FAILED, "Signoff.ApprovalFailed", "failed before a decision"),
    ],
)
def test_an_approval_without_a_decision_fails_the_task_so_the_flow_does_not_hang(
    flows: Flows, outcome: Outcome, error: str, words: str
) -> None:
    execution_id = flows.start(1)
    flows.close(execution_id, outcome)
    kind, sent_token, body = flows.sfn.calls[0]
    assert (kind, sent_token, body["error"]) == ("failure", token(1), error)
    assert "level 1 approval" in body["cause"] and execution_id in body["cause"]
    assert words in body["cause"]
    said = [m.text for m in flows.slack.thread(flows.root()) if "*Flow stopped*" in m.text]
    assert len(said) == 1 and f"`{error}`" in said[0]


def test_a_closed_token_is_already_decided_not_an_error_loop(flows: Flows) -> None:
    execution_id = flows.start(1)
    flows.sfn.fail_next = [TaskClosed("TaskTimedOut")]
    flows.sfn.executions[FLOW] = "FAILED"
    flows.close(execution_id, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))
    flows.approvals.refresh(execution_id)
    assert flows.sfn.calls == [], "tried once, never again"
    thread = [m.text for m in flows.slack.thread(flows.root())]
    late = [t for t in thread if "stopped waiting" in t]
    assert len(late) == 1 and "`TaskTimedOut`" in late[0] and "FAILED" in late[0]
    assert not any("*Flow approved*" in t for t in thread)
    events = [e["event"] for e in flows.audit.events(FLOW)]
    assert "task_closed_before_result" in events


def test_a_transient_failure_releases_the_claim_so_the_retry_completes(flows: Flows) -> None:
    execution_id = flows.start(1)
    flows.sfn.fail_next = [TransientError("throttled")]
    flows.automation.decide(execution_id, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))
    with pytest.raises(TransientError):
        flows.approvals.refresh(execution_id)
    flows.approvals.refresh(execution_id)  # EventBridge's retry
    assert [c[0] for c in flows.sfn.calls] == ["success"]


def test_the_task_is_completed_before_slack_is_touched(flows: Flows) -> None:
    execution_id = flows.start(1)
    flows.slack.down = True
    flows.automation.decide(execution_id, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))
    with pytest.raises(TransientError):
        flows.approvals.refresh(execution_id)
    assert [c[0] for c in flows.sfn.calls] == ["success"]


def test_all_levels_approved_ends_the_flow_approved_once(flows: Flows) -> None:
    for level in (1, 2, 3):
        execution_id = flows.start(level)
        flows.close(execution_id, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))
        flows.approvals.refresh(execution_id)
    root = flows.root()
    said = [m.text for m in flows.slack.thread(root) if "*Flow approved*" in m.text]
    assert len(said) == 1
    assert flows.slack.thread(root)[-1].text == said[0], "after level 3's own outcome"
    assert root.text.endswith(
        "level 1 ✓ approved by <@U0ALICE> · level 2 ✓ approved by <@U0ALICE> · "
        "level 3 ✓ approved by <@U0ALICE>"
    )
    flow = flows.store.flow(FLOW)
    assert flow is not None and flow.outcome is Outcome.APPROVED


def test_a_flow_outcome_slack_could_not_take_is_said_on_the_retry(flows: Flows) -> None:
    # Slack is down from the start: no card, no root message. The level closes; saying how the
    # flow ended fails with Slack, and the event's retry must say it, once.
    flows.slack.down = True
    execution_id = flows.start(1, levels=1)
    flows.automation.decide(execution_id, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))
    with pytest.raises(TransientError):
        flows.approvals.refresh(execution_id)
    flows.slack.down = False
    flows.approvals.refresh(execution_id)  # EventBridge's retry
    flows.approvals.refresh(execution_id)  # and the reconciler's pass
    said = [m.text for m in flows.slack.thread(flows.root()) if "*Flow approved*" in m.text]
    assert len(said) == 1


def test_the_ladder_shows_progress_as_decisions_arrive(flows: Flows) -> None:
    execution_id = flows.start(1, ssm_min_required_approvals=2)
    flows.automation.decide(execution_id, Outcome.WAITING, Decision(ALICE, Verdict.APPROVE))
    flows.approvals.refresh(execution_id)
    assert "level 1 ⏳ 1 of 2 · level 2 \u2013" in flows.root().text
    assert flows.sfn.calls == []


def test_the_token_never_reaches_slack_the_audit_or_the_logs(
    flows: Flows, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = flows.start(1)
    flows.close(first, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))
    flows.sfn.fail_next = [TaskClosed("InvalidToken")]
    second = flows.start(2)
    flows.close(second, Outcome.TIMED_OUT)
    tokens = [token(1), token(2), token(1)[-40:]]
    # botocore's own DEBUG records show each request's body, as they would every SendTaskSuccess:
    # wire logging is off in Lambda (botocore logs at WARNING), and the token is meant to travel
    # to Signoff's table.
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("botocore"))
    everything = flows.slack.everything() + json.dumps(flows.audit.events(FLOW), default=str) + ours
    assert not any(t in everything for t in tokens)


def test_the_reconciler_completes_a_level_whose_card_and_events_were_lost(
    flows: Flows,
) -> None:
    flows.slack.down = True
    execution_id = flows.start(1)  # no card: Slack is down
    flows.automation.decide(execution_id, Outcome.TIMED_OUT)  # and the event never arrives
    flows.slack.down = False
    assert flows.service.reconcile() == {"checked": 1, "failed": 0}
    assert [(c[0], c[2]["error"]) for c in flows.sfn.calls] == [
        ("failure", "Signoff.ApprovalTimedOut")
    ]
    assert "level 1 ⏰ timed out" in flows.root().text
    assert flows.service.reconcile() == {"checked": 0, "failed": 0}, "nothing left open"


def test_the_flow_outcome_rule() -> None:
    assert flow_outcome_after(Outcome.APPROVED, 1, 3) is None
    assert flow_outcome_after(Outcome.APPROVED, 3, 3) is Outcome.APPROVED
    assert flow_outcome_after(Outcome.REJECTED, 1, 3) is Outcome.REJECTED
    assert flow_outcome_after(Outcome.TIMED_OUT, 2, 3) is Outcome.TIMED_OUT
    assert flow_outcome_after(Outcome.WAITING, 3, 3) is None


def test_an_approval_without_a_task_token_is_in_no_flow_without_a_read(
    flows: Flows, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = flows.start(1)
    in_flow = flows.automation.get_approval(execution_id)
    plain = msgspec.structs.replace(in_flow, execution_id="plain-1", parameters={})

    def no_read(*args: Any) -> None:
        raise AssertionError("read DynamoDB for an approval started outside any flow")

    assert flows.tracker.membership(in_flow) is not None
    monkeypatch.setattr(flows.store, "member", no_read)
    monkeypatch.setattr(flows.store, "task", no_read)
    assert flows.tracker.membership(plain) is None


# -- stolen tokens and copied handles (issue 25) -------------------------------------------------


def forge(flows: Flows, real: str, document: str = DOCUMENT, **parameters: list[str]) -> str:
    """Someone else's execution: the real level's parameters (handle included), approved."""
    copied = dict(flows.automation.approvals[real].parameters)
    forged = msgspec.structs.replace(
        flows.automation.approvals[real],
        execution_id="00000000-0000-4000-8000-0000000000ff",
        document_name=document,
        approvers=(BOB,),
        parameters={**copied, **{k: tuple(v) for k, v in parameters.items()}},
    )
    flows.automation.approvals[forged.execution_id] = forged
    flows.approvals.announce(forged.execution_id)
    flows.close(forged.execution_id, Outcome.APPROVED, Decision(BOB, Verdict.APPROVE))
    return forged.execution_id


@pytest.mark.parametrize("document", [DOCUMENT, "Mallory-Approve"])
def test_a_copied_handle_or_stolen_token_completes_no_task(flows: Flows, document: str) -> None:
    real = flows.start(1)

    forged = forge(flows, real, document, SfnToken=[token(1)])

    assert flows.sfn.calls == [], "nothing was sent to Step Functions"
    assert flows.tracker.bound(flows.automation.approvals[forged]) is None
    level = next(lv for lv in flows.store.levels(FLOW) if lv.level == 1)
    assert level.execution_id == real and level.outcome is Outcome.WAITING
    assert "*Flow" not in json.dumps([m.text for m in flows.slack.messages])
    # The level's own approvers still decide it.
    flows.close(real, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))
    assert [(c[0], c[1]) for c in flows.sfn.calls] == [("success", token(1))]


def test_a_level_started_before_handles_still_completes_with_its_recorded_token(
    flows: Flows,
) -> None:
    # An execution in flight across the upgrade: its token is its SfnToken parameter, recorded
    # by hash for it; a copy of that parameter in another execution is still refused.
    from bot.flows.rules import task_key
    from bot.gateways.flowstore import Membership

    real = flows.start(1)
    approval = flows.automation.approvals[real]
    legacy = {k: v for k, v in approval.parameters.items() if k != "SignoffHandle"}
    flows.automation.approvals[real] = msgspec.structs.replace(
        approval, parameters={**legacy, "SfnToken": (token(1),)}
    )
    flows.store.put_member(real, Membership(FLOW, 1, 3))  # as written before handles
    flows.store.finish_task(task_key(token(1)), real)

    forge(flows, real, DOCUMENT)
    assert flows.sfn.calls == []
    flows.close(real, Outcome.APPROVED, Decision(ALICE, Verdict.APPROVE))
    assert [(c[0], c[1]) for c in flows.sfn.calls] == [("success", token(1))]


def test_a_levels_card_is_one_line_naming_the_people_who_may_decide_not_signoffs_role(
    flows: Flows,
) -> None:
    execution_id = flows.start(1)

    [card] = [m for m in flows.slack.cards() if m.key and execution_id in str(m.key)]
    [line, buttons] = card.blocks
    text = line["text"]["text"]
    assert buttons["type"] == "actions"
    # In the flow's thread, under the root that names the flow: the level, who decides, how far.
    assert text.startswith(":hourglass_flowing_sand: *Level 1 of 3* (<https://")
    assert "<@U0" in text and " to decide · 0 of 1 approval" in text
    assert "StartApproval" not in text and "signoff-start-approval" not in text
