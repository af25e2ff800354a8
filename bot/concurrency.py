"""Independent AWS calls side by side, so an event waits for the slowest round trip, not the sum.

A handler's work is mostly waiting on DynamoDB, SSM and Slack. Where a service has writes that
do not depend on one another (a level's records after its execution started, the reconciler's
separate sweeps), `together` runs them on a few threads; boto3 clients and slack_sdk's client
are safe to share between threads. A call made from inside one of those threads runs in that
thread, so nesting never waits on a pool it is part of. `Once` is a value those threads may all
ask for first (a client, the Slack secret), made only once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")

# A few round trips at once is all any event has; more threads would only cost memory.
_WORKERS = 4

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_inside = threading.local()


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls concurrently and return their results in order.

    Every call runs to its end, whatever the others do; then the first exception in the calls'
    order is raised, as if they had run one after the other up to it.
    """
    if len(calls) < 2 or getattr(_inside, "active", False):
        return [call() for call in calls]
    futures = [_executor().submit(_marked, call) for call in calls[1:]]
    outcomes: list[tuple[Any, BaseException | None]] = [_outcome(calls[0])]
    outcomes.extend(_settled(future) for future in futures)
    for _, error in outcomes:
        if error is not None:
            raise error
    return [result for result, _ in outcomes]


class Once(Generic[T]):
    """`make()` on first need, once even when threads ask at the same moment; a failure is not
    kept, so the next call tries again."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._made: T | None = None
        self._done = False
        self._lock = threading.Lock()

    def __call__(self) -> T:
        if not self._done:
            with self._lock:
                if not self._done:
                    self._made = self._make()
                    self._done = True
        return cast(T, self._made)  # made by now


def in_background(call: Callable[[], Any]) -> Future[Any]:
    """Start a call on the pool now; its result (or exception) is the future's."""
    return _executor().submit(_marked, call)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="signoff")
        return _pool


def _marked(call: Callable[[], Any]) -> Any:
    _inside.active = True
    return call()


def _outcome(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return call(), None
    except Exception as error:
        return None, error


def _settled(future: Future[Any]) -> tuple[Any, BaseException | None]:
    try:
        return future.result(), None
    except Exception as error:
        return None, error
