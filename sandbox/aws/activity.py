"""Background work the sandbox owns (engine continuations, async Lambdas) and waiting for it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class Activity:
    """Counts work in flight so `settle()` can wait until the sandbox is idle.

    A unit of work that spawns more work (a Lambda that starts an automation, an engine step
    that publishes to SNS) registers the child before it finishes itself, so the count only
    reaches zero when the whole cascade is done.
    """

    def __init__(self) -> None:
        self._busy = 0
        self._idle = threading.Condition()

    def begin(self) -> None:
        with self._idle:
            self._busy += 1

    def end(self) -> None:
        with self._idle:
            self._busy -= 1
            if self._busy <= 0:
                self._busy = 0
                self._idle.notify_all()

    @property
    def busy(self) -> int:
        with self._idle:
            return self._busy

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True


activity = Activity()


class TrackedPool:
    """A thread pool whose tasks count as sandbox activity and whose errors are logged.

    AWS runs asynchronous Lambda invocations and Automation steps on its own fleet; callers
    never see their exceptions, so neither do ours: they go to the log.
    """

    def __init__(self, name: str, workers: int) -> None:
        self._name = name
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        activity.begin()
        try:
            self._executor().submit(self._run, fn, *args)
        except BaseException:
            activity.end()
            raise

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=self._name)
            return self._pool

    def _run(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("%s: background task failed", self._name)
        finally:
            activity.end()
