"""Fault injection: Slack and AWS fail on the way; every decision lands once or the person is told.

Slack faults come from the emulator (`POST /_emulator/faults`); AWS faults from a botocore hook
in the bot's own sessions (tests/hardening/conftest.py), so botocore's retries see them as they
would see AWS's. After each story: SSM's ApproverDecisions, the audit table and the card agree.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

import bot.wiring
import sandbox.aws.lambdas
from bot.views import ACTION_APPROVE
from tests.hardening.conftest import AwsFaults
from tests.support.world import ACCOUNT, World

ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/SignoffApprover/U0ALICE"
BOB = f"arn:aws:sts::{ACCOUNT}:assumed-role/SignoffApprover/U0BOB"
# bot.wiring.AWS_CONFIG: max_attempts=5 retries after the first attempt.
BEYOND_RETRIES = 6


@pytest.fixture(autouse=True)
def _short_back_offs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The retries under test happen as in production, only without their waits: slack_sdk's
    # back-off for 5xx and dropped connections, and Lambda's between asynchronous attempts.
    # Retry-After (429) is still honoured to the second.
    monkeypatch.setattr(
        BackoffRetryIntervalCalculator, "calculate_sleep_duration", lambda self, attempt: 0.01
    )
    monkeypatch.setattr(sandbox.aws.lambdas, "ASYNC_RETRY_DELAYS", (0.05, 0.05))


@pytest.fixture
def people(world: World) -> World:
    world.map_user("U0ALICE", "alice")
    world.map_user("U0BOB", "bob")
    return world


def ssm_decisions(world: World, execution_id: str) -> list[tuple[str, str]]:
    outputs = world.approve_step(execution_id).get("Outputs", {})
    entries = [json.loads(d) for d in outputs.get("ApproverDecisions", [])]
    return [(e["Approver"], e["Decision"]) for e in entries]


def audited_decisions(world: World, execution_id: str) -> list[tuple[str, str]]:
    rows = [r for r in world.audit(execution_id) if r["event"] == "decision"]
    return [(str(r["principal"]), str(r["verdict"])) for r in rows]


def cards(world: World) -> list[dict[str, Any]]:
    return [m for m in world.messages() if m.get("blocks")]


def assert_consistent(world: World, execution_id: str, expected: list[tuple[str, str]]) -> None:
    """SSM holds each decision once, the audit table holds the same ones, one card shows them."""
    assert sorted(ssm_decisions(world, execution_id)) == sorted(expected)
    assert sorted(audited_decisions(world, execution_id)) == sorted(expected)
    [card] = cards(world)
    text = json.dumps(card["blocks"])
    for principal, _ in expected:
        assert f"<@{principal.rsplit('/', 1)[1]}>" in text


def told_then_a_retry_lands(people: World, execution_id: str, *said: str) -> None:
    """Alice's decision does not reach SSM and she is told so, in words holding each of `said`;
    nothing is written down, and her second try goes through."""
    people.decide("alice", ACTION_APPROVE)

    [told] = people.ephemeral("alice")
    assert all(words in told for words in said), told
    assert ssm_decisions(people, execution_id) == []
    assert audited_decisions(people, execution_id) == []
    assert people.execution_status(execution_id) == "Waiting"

    people.decide("alice", ACTION_APPROVE)
    assert people.execution_status(execution_id) == "Success"
    assert_consistent(people, execution_id, [(ALICE, "Approve")])


def no_lambda_retries(world: World, *functions: str) -> None:
    for function in functions:
        world.client("lambda").put_function_event_invoke_config(
            FunctionName=function, MaximumRetryAttempts=0
        )


def reconcile(world: World) -> dict[str, int]:
    result = world.client("lambda").invoke(FunctionName="signoff-reconcile", Payload=b"{}")
    world.settle()
    return dict(json.loads(result["Payload"].read()))


# -- Slack ---------------------------------------------------------------------------------------


def test_slack_5xx_on_the_card_post_is_retried_into_one_card(people: World) -> None:
    people.control("POST", "faults", json={"method": "chat.postMessage", "status": 500, "count": 2})
    execution_id = people.start_approval([ALICE])

    assert len(cards(people)) == 1
    assert execution_id in people.card_text()


def test_slack_down_for_one_notice_is_outlasted_by_lambdas_retry(people: World) -> None:
    # More failures than slack_sdk's retry handler allows (1 + 3): the notice fails, the claim
    # is released, and Lambda's own retry of the asynchronous invocation posts the card.
    people.control("POST", "faults", json={"method": "chat.postMessage", "status": 503, "count": 4})
    execution_id = people.start_approval([ALICE])

    assert len(cards(people)) == 1
    assert execution_id in people.card_text()


def test_slack_down_for_every_retry_leaves_the_card_to_the_reconciler(people: World) -> None:
    no_lambda_retries(people, "signoff-approval-notice", "signoff-automation-result")
    people.control(
        "POST", "faults", json={"method": "chat.postMessage", "status": 503, "count": 99}
    )
    execution_id = people.start_approval([ALICE])
    assert cards(people) == []
    people.control("DELETE", "faults")  # Slack is back

    assert reconcile(people)["posted"] == 1
    assert reconcile(people)["posted"] == 0
    assert len(cards(people)) == 1
    people.decide("alice", ACTION_APPROVE)
    assert_consistent(people, execution_id, [(ALICE, "Approve")])


def test_rate_limited_and_failing_card_updates_still_show_every_decision(people: World) -> None:
    execution_id = people.start_approval([ALICE, BOB], min_required=2)
    people.control(
        "POST",
        "faults",
        json={"method": "chat.update", "status": 429, "count": 1, "retry_after": 1},
    )
    people.control("POST", "faults", json={"method": "chat.update", "status": 500, "count": 1})

    people.decide("alice", ACTION_APPROVE)
    people.decide("bob", ACTION_APPROVE)

    assert people.execution_status(execution_id) == "Success"
    assert "Approved* by <@U0ALICE>, <@U0BOB>" in people.card_text()
    assert_consistent(people, execution_id, [(ALICE, "Approve"), (BOB, "Approve")])


# -- AWS -----------------------------------------------------------------------------------------


def test_ssm_throttling_on_the_signal_is_retried_and_lands_once(
    people: World, aws_faults: AwsFaults
) -> None:
    execution_id = people.start_approval([ALICE])
    fault = aws_faults.add("ssm", "SendAutomationSignal", "ThrottlingException", count=2)

    people.decide("alice", ACTION_APPROVE, comment="ok")

    assert fault.seen == 2
    assert people.ephemeral("alice") == []
    assert people.execution_status(execution_id) == "Success"
    assert_consistent(people, execution_id, [(ALICE, "Approve")])


def test_an_ssm_error_after_the_signal_landed_is_not_a_second_decision(
    people: World, aws_faults: AwsFaults
) -> None:
    # SSM recorded the decision, then the answer was lost (a 500): botocore sends it again, and
    # SSM refuses the repeat. The person's decision stands and they are not told it failed.
    execution_id = people.start_approval([ALICE, BOB], min_required=2)
    aws_faults.add(
        "ssm", "SendAutomationSignal", "InternalServerError", status=500, after_processing=True
    )

    people.decide("alice", ACTION_APPROVE)

    assert people.ephemeral("alice") == []
    assert "1 of 2 approvals" in people.card_text()
    assert_consistent(people, execution_id, [(ALICE, "Approve")])
    assert any("<@U0ALICE> approved (via Slack)" in t for t in people.thread())


def test_ssm_failing_beyond_retries_tells_the_person_and_a_second_try_works(
    people: World, aws_faults: AwsFaults
) -> None:
    execution_id = people.start_approval([ALICE])
    aws_faults.add(
        "ssm", "SendAutomationSignal", "InternalServerError", status=500, count=BEYOND_RETRIES
    )

    told_then_a_retry_lands(people, execution_id, "AWS was busy", "try again")


def test_ssm_not_answering_the_signal_tells_the_person_and_a_second_try_works(
    people: World, aws_faults: AwsFaults
) -> None:
    # Every attempt times out before SSM has it: SSM is asked whether the decision landed (it
    # did not), the claims are let go, and the person is told to try again.
    execution_id = people.start_approval([ALICE])
    aws_faults.add("ssm", "SendAutomationSignal", "", timeout=True, count=BEYOND_RETRIES)

    told_then_a_retry_lands(
        people, execution_id, "AWS did not answer", "(ReadTimeoutError); try again"
    )


def test_a_signal_ssm_took_but_never_answered_stands_as_the_decision(
    people: World, aws_faults: AwsFaults
) -> None:
    # SSM records the first attempt; its answer and every retry's answer are lost to timeouts.
    # SSM holds the decision, so it stands: written down once, shown once, nobody told it failed.
    execution_id = people.start_approval([ALICE, BOB], min_required=2)
    aws_faults.add(
        "ssm",
        "SendAutomationSignal",
        "",
        timeout=True,
        after_processing=True,
        count=BEYOND_RETRIES,
    )

    people.decide("alice", ACTION_APPROVE)

    assert people.ephemeral("alice") == []
    assert "1 of 2 approvals" in people.card_text()
    assert_consistent(people, execution_id, [(ALICE, "Approve")])
    assert sum("<@U0ALICE> approved (via Slack)" in t for t in people.thread()) == 1


def test_sts_access_denied_explains_the_trust_policy_and_sends_nothing(
    people: World, aws_faults: AwsFaults
) -> None:
    execution_id = people.start_approval([ALICE])
    aws_faults.add("sts", "AssumeRole", "AccessDenied", status=403)

    # Then the admin fixes the trust policy; the same person tries again and it goes through.
    told_then_a_retry_lands(
        people,
        execution_id,
        "cannot assume arn:aws:iam::123456789012:role/SignoffApprover",
        "sts:SetSourceIdentity",
    )


def test_dynamodb_throttling_on_the_claim_is_retried(people: World, aws_faults: AwsFaults) -> None:
    execution_id = people.start_approval([ALICE])
    fault = aws_faults.add(
        "dynamodb",
        "PutItem",
        "ProvisionedThroughputExceededException",
        count=3,
        table=people.table("approvals"),
        pk_prefix=f"EXEC#{execution_id}",  # the decision claim's item
    )

    people.decide("alice", ACTION_APPROVE)

    assert fault.seen == 3
    assert people.ephemeral("alice") == []
    assert_consistent(people, execution_id, [(ALICE, "Approve")])


def test_dynamodb_throttled_beyond_retries_before_the_signal_tells_the_person(
    people: World, aws_faults: AwsFaults
) -> None:
    execution_id = people.start_approval([ALICE])
    # The decision's claim (the click's replay record, a PutItem on the same table, must land).
    aws_faults.add(
        "dynamodb",
        "PutItem",
        "ThrottlingException",
        count=BEYOND_RETRIES,
        table=people.table("approvals"),
        pk_prefix=f"EXEC#{execution_id}",  # the decision claim's item
    )

    told_then_a_retry_lands(people, execution_id, "AWS was busy")


def test_dynamodb_not_answering_the_claim_tells_the_person_and_sends_nothing(
    people: World, aws_faults: AwsFaults
) -> None:
    execution_id = people.start_approval([ALICE])
    aws_faults.add(
        "dynamodb",
        "PutItem",
        "",
        timeout=True,
        count=BEYOND_RETRIES,
        table=people.table("approvals"),
        pk_prefix=f"EXEC#{execution_id}",  # the decision claim's item
    )

    told_then_a_retry_lands(
        people,
        execution_id,
        "AWS did not answer while the bot tried to write to the approvals table",
    )


def test_a_channel_pace_dynamodb_does_not_answer_for_still_gets_its_card_at_once(
    people: World, aws_faults: AwsFaults
) -> None:
    # The channel's posting turn cannot be taken or recorded (every write to its pace item times
    # out): pacing only helps, so the card is posted now, not left claimed for the reconciler.
    no_lambda_retries(people, "signoff-approval-notice", "signoff-automation-result")
    paced = aws_faults.add("dynamodb", "UpdateItem", "", timeout=True, count=99, pk_prefix="pace#")

    execution_id = people.start_approval([ALICE])

    assert paced.seen >= BEYOND_RETRIES
    assert len(cards(people)) == 1
    assert execution_id in people.card_text()
    assert reconcile(people)["posted"] == 0


def test_a_claim_that_half_failed_is_released_so_the_person_can_try_again(
    people: World, aws_faults: AwsFaults
) -> None:
    # The decision claim is taken, the announcement claim is not: both must be let go, or the
    # person is told "already on its way" for 45 days while nothing went to SSM.
    execution_id = people.start_approval([ALICE])
    aws_faults.add(
        "dynamodb",
        "PutItem",
        "ThrottlingException",
        skip=1,
        count=BEYOND_RETRIES,
        table=people.table("approvals"),
        pk_prefix=f"EXEC#{execution_id}",  # the decision claim's item
    )

    told_then_a_retry_lands(people, execution_id, "AWS was busy")


def test_the_audit_table_failing_after_the_signal_loses_no_decision(
    people: World, aws_faults: AwsFaults
) -> None:
    # The signal went through; writing it down did not. The person is not told it failed (it
    # did not), and the next sync of the approval writes the decision down, as made in Slack.
    execution_id = people.start_approval([ALICE, BOB], min_required=2)
    aws_faults.add(
        "dynamodb",
        "PutItem",
        "ThrottlingException",
        count=BEYOND_RETRIES,
        table=people.table("audit"),
    )

    people.decide("alice", ACTION_APPROVE)
    assert ssm_decisions(people, execution_id) == [(ALICE, "Approve")]
    assert people.ephemeral("alice") == []

    people.decide("bob", ACTION_APPROVE)
    assert people.execution_status(execution_id) == "Success"
    assert_consistent(people, execution_id, [(ALICE, "Approve"), (BOB, "Approve")])
    assert {r["via"] for r in people.audit(execution_id) if r["event"] == "decision"} == {"slack"}
    assert sum("<@U0ALICE> approved (via Slack)" in t for t in people.thread()) == 1


def test_a_card_update_slack_never_took_is_made_by_the_next_sync(people: World) -> None:
    # Slack refuses every chat.update while the approval closes (beyond every retry): the card
    # must not be recorded as showing the outcome, or no later sync would ever render it.
    execution_id = people.start_approval([ALICE])
    no_lambda_retries(people, "signoff-automation-result")  # each retry waits out Slack's too
    people.control("POST", "faults", json={"method": "chat.update", "status": 500, "count": 99})

    people.decide("alice", ACTION_APPROVE)
    assert people.execution_status(execution_id) == "Success"
    assert "Approved" not in people.card_text()

    people.control("DELETE", "faults")  # Slack is back
    reconcile(people)
    assert "Approved* by <@U0ALICE>" in people.card_text()
    assert ACTION_APPROVE not in people.card_text()
    assert_consistent(people, execution_id, [(ALICE, "Approve")])


IMPATIENT_TIMEOUT_S = 1
SLOW_SLACK_S = 2 * IMPATIENT_TIMEOUT_S  # long enough to time out, short enough to wait for


@pytest.fixture
def impatient_slack_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's Slack client gives up after 1 s (10 s in production), so a test can time out."""
    original = bot.wiring.web_client

    def web_client(token: str, base_url: str, **kwargs: Any) -> WebClient:
        client = original(token, base_url, **kwargs)
        client.timeout = IMPATIENT_TIMEOUT_S
        return client

    monkeypatch.setattr(bot.wiring, "web_client", web_client)


def slow_slack(world: World, method: str) -> None:
    """Slack's next `method` call answers too late for the impatient client, then happens."""
    world.control("POST", "faults", json={"method": method, "delay_seconds": SLOW_SLACK_S})


def let_slow_call_land(world: World) -> None:
    """Wait until Slack has carried out the slow call (and any other it was serving)."""
    landed = world.control("GET", "wait", params={"in_flight": 0, "timeout": 3 * SLOW_SLACK_S})
    assert landed["ok"], "the slow Slack call did not land"


@pytest.mark.usefixtures("impatient_slack_client")
def test_a_card_update_that_timed_out_is_repeated_harmlessly(people: World) -> None:
    execution_id = people.start_approval([ALICE])
    slow_slack(people, "chat.update")

    people.decide("alice", ACTION_APPROVE)
    assert people.ephemeral("alice") == []  # the decision was sent; only the card waits

    # The timed-out update was given back its rank, and it lands late, as Slack may still carry
    # one out. The run's own sync may have come while it was in flight (and left the render to
    # it), so the next sync is what renders it for sure; the repeat changes nothing.
    let_slow_call_land(people)
    reconcile(people)

    assert "Approved* by <@U0ALICE>" in people.card_text()
    assert_consistent(people, execution_id, [(ALICE, "Approve")])
    assert reconcile(people)["synced"] == 0  # recorded as shown: no card left open


@pytest.mark.usefixtures("impatient_slack_client")
def test_a_card_post_that_timed_out_but_landed_is_not_posted_twice(people: World) -> None:
    # chat.postMessage is not idempotent: the unanswered post keeps its claim, and whoever comes
    # next looks for the card in the channel (its metadata names the execution) and adopts it.
    slow_slack(people, "chat.postMessage")
    execution_id = people.start_approval([ALICE])
    let_slow_call_land(people)
    people.settle()

    assert len(cards(people)) == 1
    assert reconcile(people)["posted"] == 1  # found in the channel and adopted, not re-posted
    assert reconcile(people)["posted"] == 0
    assert len(cards(people)) == 1
    people.decide("alice", ACTION_APPROVE)
    assert "Approved* by <@U0ALICE>" in people.card_text()
    assert_consistent(people, execution_id, [(ALICE, "Approve")])


def test_a_card_post_answered_with_a_5xx_after_it_landed_is_not_posted_twice(
    people: World,
) -> None:
    # Slack posted the card, then answered 500: the retry looks in the channel first.
    people.control(
        "POST",
        "faults",
        json={"method": "chat.postMessage", "status": 500, "after_processing": True},
    )
    execution_id = people.start_approval([ALICE])

    assert len(cards(people)) == 1
    posts = people.control("GET", "calls", params={"method": "chat.postMessage"})["calls"]
    assert [c["status"] for c in posts if c["params"].get("metadata")] == [500]
    people.decide("alice", ACTION_APPROVE)
    assert_consistent(people, execution_id, [(ALICE, "Approve")])


def test_a_thread_reply_answered_with_a_5xx_after_it_landed_is_not_posted_twice(
    people: World,
) -> None:
    # The decision's line lands in the card's thread, then Slack answers 500: the retry finds
    # the line in the thread (its metadata names the execution and the claim) and stops there.
    execution_id = people.start_approval([ALICE])
    people.control(
        "POST",
        "faults",
        json={"method": "chat.postMessage", "status": 500, "after_processing": True},
    )

    people.decide("alice", ACTION_APPROVE)

    assert sum("<@U0ALICE> approved (via Slack)" in t for t in people.thread()) == 1
    posts = people.control("GET", "calls", params={"method": "chat.postMessage"})["calls"]
    assert [c["status"] for c in posts].count(500) == 1
    assert people.execution_status(execution_id) == "Success"
    assert_consistent(people, execution_id, [(ALICE, "Approve")])


@pytest.mark.usefixtures("impatient_slack_client")
def test_a_card_whose_lookup_slack_refuses_is_neither_lost_nor_doubled(people: World) -> None:
    # The post times out and the channel's history cannot be read (say the app lacks
    # channels:history): nothing re-posts blindly; once Slack answers, the card is adopted.
    slow_slack(people, "chat.postMessage")
    people.control(
        "POST",
        "faults",
        json={"method": "conversations.history", "error": "missing_scope", "count": 99},
    )
    execution_id = people.start_approval([ALICE])
    let_slow_call_land(people)
    people.settle()
    assert len(cards(people)) == 1
    assert reconcile(people)["posted"] == 0

    people.control("DELETE", "faults")  # the scope is added
    assert reconcile(people)["posted"] == 1
    assert len(cards(people)) == 1
    people.decide("alice", ACTION_APPROVE)
    assert_consistent(people, execution_id, [(ALICE, "Approve")])
