"""Turns to post in a Slack channel, shared by every function instance through DynamoDB.

Slack takes about one message per second per channel and answers 429 with a whole-second
Retry-After beyond that (platform facts C.4). When a burst of notices reaches one channel, the
functions posting them run at once; left to retry on 429s, they wake together, one wins, the
others wait another whole second, and every card costs 1.2 to 2 s instead of 1. Handing out
turns instead (one item per channel holding when its next post may go, taken with a conditional
write) lets each poster sleep until its own turn and post without a 429.

Pacing only helps: if DynamoDB fails, the turn is too far off, or the item is fought over too
long, the post goes ahead and the Slack client's 429 handling decides, as it would without it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from bot.errors import ServiceError
from bot.gateways.dynamo import DynamoTable

logger = logging.getLogger(__name__)

# A little over Slack's second: a post that reaches Slack a few milliseconds early (network
# jitter) would otherwise get a 429 and lose a whole second.
SPACING_SECONDS = 1.05
# How long before its turn a poster reads when the post before went out.
READ_AHEAD_SECONDS = 0.1
# Beyond this wait a poster does not queue up (the functions have 60 s; keep room to post).
PATIENCE_SECONDS = 40.0
# The item outlives its last turn by a day, then DynamoDB's TTL removes it.
_KEEP_SECONDS = 86_400


class Pacer(Protocol):
    """Turns for posting to a channel; ChannelPacer is the real one."""

    def wait_turn(self, channel: str) -> float: ...

    def posted(self, channel: str) -> None: ...


class ChannelPacer:
    """`wait_turn(channel)` returns when this caller may post in `channel`; `posted(channel)`
    says when its post was in, so a post that went out late pushes the next one back."""

    def __init__(
        self,
        table: DynamoTable,
        *,
        spacing: float = SPACING_SECONDS,
        patience: float = PATIENCE_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table
        self._spacing = spacing
        self._patience = patience
        self._clock = clock
        self._sleep = sleep

    def wait_turn(self, channel: str) -> float:
        """Take the channel's next turn and sleep until it; returns the seconds waited."""
        try:
            taken = self._take_turn(channel)
        except ServiceError:
            logger.warning("no posting turn (DynamoDB failed); posting now", exc_info=True)
            return 0.0
        if taken is None:
            return 0.0
        turn, quiet = taken
        if quiet:
            return 0.0  # nothing pending and no post in the last spacing: post at once
        began = self._clock()
        early = turn - READ_AHEAD_SECONDS - began
        if early > 0:
            self._sleep(early)
        # The post before may have gone out later than its turn (a slow Lambda, a retry): keep
        # a full spacing after it too, or the two arrive inside one of Slack's seconds. Read a
        # little before the turn, so the read's round trip is not added to every card.
        due = max(turn, self._spaced_from_last_post(channel))
        rest = due - self._clock()
        if rest > 0:
            self._sleep(rest)
        return max(0.0, self._clock() - began)

    def posted(self, channel: str) -> None:
        """Record that a post to `channel` is in (best effort: pacing only helps)."""
        now = _decimal(self._clock())
        try:
            self._table.update(
                _key(channel),
                "SET posted_at = :now",
                {":now": now},
                condition="attribute_not_exists(posted_at) OR posted_at < :now",
            )
        except ServiceError:
            logger.warning("could not record a post's time", exc_info=True)

    def _spaced_from_last_post(self, channel: str) -> float:
        """When a spacing after the channel's last recorded post ends (0.0: nothing to keep)."""
        try:
            item = self._table.get(_key(channel))
        except ServiceError:
            return 0.0
        if not item or "posted_at" not in item:
            return 0.0
        due = float(item["posted_at"]) + self._spacing
        now = self._clock()
        return due if now < due <= now + self._spacing else 0.0

    def _take_turn(self, channel: str) -> tuple[float, bool] | None:
        """(turn, quiet) in at most two writes, never a retry loop, however many posters want
        the channel; quiet when nothing was pending and nothing posted for a spacing."""
        key = _key(channel)
        now = self._clock()
        expires = int(now) + _KEEP_SECONDS
        # A quiet channel (no turn pending, no post within a spacing): the turn is now.
        if self._table.update(
            key,
            "SET next_at = :next, expires_at = :expires",
            {
                ":next": _decimal(now + self._spacing),
                ":now": _decimal(now),
                ":quiet_since": _decimal(now - self._spacing),
                ":expires": expires,
            },
            condition="(attribute_not_exists(next_at) OR next_at <= :now) AND "
            "(attribute_not_exists(posted_at) OR posted_at <= :quiet_since)",
        ):
            return now, True
        # A busy one: take the turn after the last one handed out.
        updated = self._table.update_returning(
            key,
            "SET next_at = if_not_exists(next_at, :now) + :spacing, expires_at = :expires",
            {":spacing": _decimal(self._spacing), ":now": _decimal(now), ":expires": expires},
        )
        turn = float(updated["next_at"]) - self._spacing
        if turn - now > self._patience:
            # Too far off to wait for: post now and let Slack's 429 decide. The turn stays
            # taken, which only spaces the queue a little more.
            logger.info("turn too far off; posting now", extra={"channel": channel})
            return None
        return turn, False


def _key(channel: str) -> dict[str, str]:
    return {"pk": f"pace#{channel}", "sk": "pace"}


def _decimal(seconds: float) -> Decimal:
    return Decimal(f"{seconds:.3f}")
