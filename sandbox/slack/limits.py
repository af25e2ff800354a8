"""Slack's unhappy paths on demand: the per-channel posting limit and injected faults.

Both exist so the bot's retry and back-off code (slack_sdk's RateLimitErrorRetryHandler, the
notice fan-out at 1 msg/s/channel) can be tested and benchmarked without real Slack.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_ERRORS = {429: "ratelimited", 500: "internal_error", 502: "bad_gateway", 503: "unavailable"}


class ChannelRateLimiter:
    """A token bucket per channel: `per_second` sustained, `burst` at once (Slack allows bursts).

    `None` turns the limit off, which is the default: Slack's limit only matters to the tests and
    benchmarks that ask for it.
    """

    def __init__(
        self,
        per_second: float | None = None,
        burst: int = 1,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}
        self.per_second = per_second
        self.burst = burst
        self.configure(per_second, burst)

    def configure(self, per_second: float | None, burst: int = 1) -> None:
        if per_second is not None and per_second <= 0:
            raise ValueError("per_second must be positive (or None to turn the limit off)")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        with self._lock:
            self.per_second = per_second
            self.burst = burst
            self._buckets.clear()

    def acquire(self, channel: str) -> int | None:
        """Take one post for `channel`; None if allowed, else the Retry-After seconds to send."""
        with self._lock:
            rate = self.per_second
            if rate is None:
                return None
            now = self._now()
            tokens, last = self._buckets.get(channel, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[channel] = (tokens - 1.0, now)
                return None
            self._buckets[channel] = (tokens, now)
            # Slack sends whole seconds; round up so a client that obeys it is never early.
            return max(1, math.ceil((1.0 - tokens) / rate))

    def describe(self) -> dict[str, Any]:
        return {"per_second": self.per_second, "burst": self.burst}


@dataclass
class Fault:
    """One injected failure for a Web API method, consumed `count` times, oldest first."""

    method: str
    status: int = 200
    error: str | None = None
    count: int = 1
    retry_after: int | None = None
    delay_seconds: float | None = None
    # The call is carried out, then the failure is answered: a post that landed but looks lost.
    after_processing: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        method = data.get("method")
        if not isinstance(method, str) or not method:
            raise ValueError("a fault needs a method, e.g. chat.update (or * for any)")
        status = int(data.get("status", 200))
        delay = data.get("delay_seconds")
        error = data.get("error")
        if status == 200 and error is None and delay is None:
            raise ValueError("a fault needs a status other than 200, an error or delay_seconds")
        count = int(data.get("count", 1))
        if count < 1:
            raise ValueError("count must be at least 1")
        retry_after = data.get("retry_after")
        return cls(
            method=method,
            status=status,
            error=str(error) if error is not None else None,
            count=count,
            retry_after=int(retry_after) if retry_after is not None else None,
            delay_seconds=float(delay) if delay is not None else None,
            after_processing=bool(data.get("after_processing", False)),
        )

    @property
    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error or DEFAULT_ERRORS.get(self.status, "fatal_error")}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultQueue:
    """Faults waiting for their method; each call takes at most one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in (method, "*"):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]
