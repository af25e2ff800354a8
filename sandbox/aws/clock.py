"""The engine's clock: real time plus an offset that tests (and the sandbox) can advance."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Listener = Callable[[], None]


class Clock:
    """UTC wall clock that can jump forward.

    Every time the SSM engine reads (execution and step times, approval timeouts, `aws:sleep`)
    comes from here, so a 7-day approval timeout is testable by calling `advance(604800)`.
    Listeners run after each advance so waiting steps notice the jump without a poller.
    """

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + offset

    @property
    def offset_seconds(self) -> float:
        with self._lock:
            return self._offset.total_seconds()

    def advance(self, seconds: float) -> datetime:
        """Move time forward by `seconds` (never backwards: AWS time does not rewind)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
            listeners = list(self._listeners)
        for listener in listeners:
            listener()
        return self.now()

    def reset(self) -> None:
        """Back to real time; used between tests so one test's jump does not leak."""
        with self._lock:
            self._offset = timedelta()

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener not in self._listeners:
                self._listeners.append(listener)


clock = Clock()
