"""ChannelPacer: one channel's posters get turns a spacing apart; pacing never blocks a post."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from bot.gateways.dynamo import DynamoTable
from bot.gateways.pacing import ChannelPacer


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def pacer(table: Any, clock: Clock, **options: Any) -> ChannelPacer:
    return ChannelPacer(
        DynamoTable(table, "approvals"), spacing=1.05, clock=clock, sleep=clock.sleep, **options
    )


def test_an_idle_channel_posts_at_once(table: Any, clock: Clock) -> None:
    assert pacer(table, clock).wait_turn("C0APPROVALS") == 0.0
    assert clock.slept == []


def test_a_burst_for_one_channel_gets_turns_a_spacing_apart(table: Any, clock: Clock) -> None:
    # Five functions reach the channel at the same moment (each takes its turn before any sleeps).
    pacers = [pacer(table, clock) for _ in range(5)]
    turns = [p._take_turn("C0APPROVALS") for p in pacers]

    assert [(round(t - clock.now, 2), quiet) for t, quiet in filter(None, turns)] == [
        (0, True),
        (1.05, False),
        (2.1, False),
        (3.15, False),
        (4.2, False),
    ]


def test_a_quiet_channel_costs_one_write_and_no_read(table: Any, clock: Clock) -> None:
    client = table.client
    calls: list[str] = []
    client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )

    pacer(table, clock).wait_turn("C0APPROVALS")

    assert calls == ["UpdateItem"]


def test_a_post_just_made_makes_the_channel_busy_not_quiet(table: Any, clock: Clock) -> None:
    paced = pacer(table, clock)
    paced.posted("C0APPROVALS")  # a post went out just now, its turn long handed out
    clock.now += 0.3

    assert round(paced.wait_turn("C0APPROVALS"), 2) == 0.75


def test_channels_are_paced_apart_from_each_other(table: Any, clock: Clock) -> None:
    first = pacer(table, clock)
    first.wait_turn("C0LEVEL1")

    assert first.wait_turn("C0LEVEL2") == 0.0
    assert first.wait_turn("C0LEVEL1") == pytest.approx(1.05, abs=0.001)


def test_a_channel_idle_again_hands_out_turns_from_now(table: Any, clock: Clock) -> None:
    paced = pacer(table, clock)
    paced.wait_turn("C0APPROVALS")
    clock.now += 60

    assert paced.wait_turn("C0APPROVALS") == 0.0


def test_a_post_that_went_out_late_pushes_the_next_turn_back(table: Any, clock: Clock) -> None:
    paced = pacer(table, clock)
    paced.wait_turn("C0APPROVALS")
    clock.now += 0.8  # the poster was slow: its post is in 0.8 s after its turn
    paced.posted("C0APPROVALS")

    waited = paced.wait_turn("C0APPROVALS")

    assert round(waited, 2) == 1.05, "a full spacing after the late post, not after its turn"


class SlowReads(DynamoTable):
    """Each read takes 50 ms of the clock, as a round trip to DynamoDB does."""

    def __init__(self, table: Any, clock: Clock) -> None:
        super().__init__(table, "approvals")
        self.clock = clock

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self.clock.now += 0.05
        return super().get(*args, **kwargs)


def test_the_last_post_is_read_before_the_turn_so_its_round_trip_adds_nothing(
    table: Any, clock: Clock
) -> None:
    first, second = (
        ChannelPacer(SlowReads(table, clock), spacing=1.05, clock=clock, sleep=clock.sleep)
        for _ in range(2)
    )
    first.wait_turn("C0APPROVALS")
    start = clock.now
    first.posted("C0APPROVALS")

    second.wait_turn("C0APPROVALS")

    assert round(clock.now - start, 3) == 1.05, "its turn, not its turn plus the read"


def test_a_turn_too_far_off_is_not_waited_for(table: Any, clock: Clock) -> None:
    paced = pacer(table, clock, patience=3.0)
    for _ in range(4):
        paced._take_turn("C0APPROVALS")

    assert paced.wait_turn("C0APPROVALS") == 0.0, "Slack's own 429 decides instead"
    assert clock.slept == []


def test_dynamodb_failing_never_holds_a_post_back(table: Any, clock: Clock) -> None:
    client = table.client
    with Stubber(client) as stub:
        stub.add_client_error("update_item", "ProvisionedThroughputExceededException")
        stub.add_client_error("update_item", "AccessDeniedException")

        assert pacer(table, clock).wait_turn("C0APPROVALS") == 0.0
        pacer(table, clock).posted("C0APPROVALS")  # logged, not raised


def test_with_no_spacing_every_poster_goes_at_once(table: Any, clock: Clock) -> None:
    # SIGNOFF_SLACK_POST_SPACING_MS=0: turns are still taken (the same code runs), never waited.
    unpaced = ChannelPacer(
        DynamoTable(table, "approvals"), spacing=0.0, clock=clock, sleep=clock.sleep
    )
    unpaced.wait_turn("C0APPROVALS")
    clock.now += 0.01
    unpaced.posted("C0APPROVALS")  # another thread, whose clock read a little later
    clock.now -= 0.01

    assert unpaced.wait_turn("C0APPROVALS") == 0.0
    assert clock.slept == []
