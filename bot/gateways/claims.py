"""Exactly-once work: take a one-time claim, act, give the claim back when the act failed.

Every path into Signoff is at-least-once (SNS, EventBridge, Slack and Lambda all retry), so work
that must happen once (post a card, tell a thread, send a reminder, complete a task) first takes
a claim: a conditional put that exactly one caller wins. A claim's key is a `ClaimKey` that only
a store builds (`ApprovalStore.decision_claim(...)`), never a string spelled in a service: a typo
there would make a second key that nobody else takes, and the work would happen twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from bot.errors import ServiceError
from bot.gateways.dynamo import Clock, DynamoTable, expiry

T = TypeVar("T")

logger = logging.getLogger(__name__)

_PREFIX = "CLAIM#"


class ClaimKey(msgspec.Struct, frozen=True):
    """Where one claim lives: its item's partition and sort key. Built by stores only."""

    pk: str
    sk: str

    @classmethod
    def of(cls, pk: str, name: str) -> ClaimKey:
        return cls(pk, _PREFIX + name)


class Claims(Protocol):
    """What `once` needs of a store: take a claim (False if someone holds it), give it back."""

    def take(self, key: ClaimKey, **attributes: Any) -> bool: ...

    def release(self, key: ClaimKey) -> None: ...


class ClaimTable:
    """Claims as items of a DynamoDB table, each expiring with the rest of its subject."""

    def __init__(self, table: DynamoTable, now: Clock) -> None:
        self._table = table
        self._now = now

    def take(self, key: ClaimKey, **attributes: Any) -> bool:
        now = self._now()
        item = {
            "pk": key.pk,
            "sk": key.sk,
            "claimed_at": now.isoformat(),
            "expires_at": expiry(now),
            **attributes,
        }
        return self._table.claim(item)

    def release(self, key: ClaimKey) -> None:
        self._table.release({"pk": key.pk, "sk": key.sk})

    def held(self, key: ClaimKey) -> bool:
        return self._table.get({"pk": key.pk, "sk": key.sk}) is not None

    def held_of(self, keys: Iterable[ClaimKey]) -> set[ClaimKey]:
        """Those of `keys` someone holds (read 100 at a time)."""
        wanted = {(key.pk, key.sk): key for key in keys}
        found = self._table.get_many([{"pk": pk, "sk": sk} for pk, sk in wanted])
        return {wanted[(item["pk"], item["sk"])] for item in found}


@dataclass(frozen=True, slots=True)
class Ran(Generic[T]):
    """The act ran (this caller won the claim), and returned `value`."""

    value: T


def once(
    claims: Claims,
    key: ClaimKey,
    act: Callable[[], T],
    *,
    keep_on: tuple[type[Exception], ...] = (),
    **attributes: Any,
) -> Ran[T] | None:
    """Run `act` only if this caller takes the claim `key`; None when someone else holds it.

    When `act` raises, the claim is given back so a retry can do the work, unless the error is
    one of `keep_on`: an act that may have happened (a post Slack did not confirm) keeps its
    claim, since doing it again could do it twice. A claim that cannot be given back is logged
    and kept until its expiry; the act's own error is what the caller sees.
    """
    if not claims.take(key, **attributes):
        return None
    try:
        return Ran(act())
    except keep_on:
        raise
    except Exception:
        release(claims, key)
        raise


def release(claims: Claims, *keys: ClaimKey) -> None:
    """Give claims back; one that cannot be is logged (it says "on its way" until it expires)."""
    for key in keys:
        try:
            claims.release(key)
        except ServiceError:
            logger.exception("could not release a claim", extra={"claim": key.sk})
