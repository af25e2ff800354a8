"""Identifiers shaped like Slack's, so bots parse and store them as they would in production."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable


class TsClock:
    """Message timestamps: "seconds.micros", strictly increasing, as Slack guarantees per channel.

    Bots use `ts` as the message's primary key (chat.update, thread_ts), so two messages posted in
    the same microsecond must still get different ones.
    """

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            micros = max(int(self._now() * 1_000_000), self._last + 1)
            self._last = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def trigger_id() -> str:
    """Slack's shape: "<digits>.<digits>.<hex>"; bots treat it as opaque."""
    return f"{int(time.time())}.{secrets.randbelow(10**12):012d}.{secrets.token_hex(16)}"


def view_id() -> str:
    return "V" + secrets.token_hex(5).upper()


def view_hash() -> str:
    return f"{time.time():.6f}.{secrets.token_urlsafe(6)}"


def url_token() -> str:
    return secrets.token_urlsafe(18)


def dm_channel_id(user_id: str) -> str:
    """One stable DM id per user (`U0ALICE` → `D0ALICE`), so reruns and tests can predict it."""
    return "D" + user_id[1:]
