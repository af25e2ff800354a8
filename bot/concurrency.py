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
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar, cast

from bot.errors import ServiceError, TransientError

T = TypeVar("T")

# A few round trips at once is all any event has; more threads would only cost memory.
_WORKERS = 4

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_inside = threading.local()


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls concurrently and return their results in order.

    Every call runs to its end, whatever the others do. One failure is raised as it is; several
    are raised together as `Failures` (an ExceptionGroup, in the calls' order), so a log shows
    each of them, not only the first.
    """
    if len(calls) < 2 or getattr(_inside, "active", False):
        outcomes = [_outcome(call) for call in calls]
    else:
        futures = [_executor().submit(_marked, call) for call in calls[1:]]
        outcomes = [_outcome(calls[0])]
        outcomes.extend(_settled(future) for future in futures)
    errors = [error for _, error in outcomes if error is not None]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise Failures.of(errors, len(calls))
    return [result for result, _ in outcomes]


class Failures(ExceptionGroup[Exception]):
    """Several of `together`'s calls failed; `exceptions` holds each, in the calls' order."""

    @staticmethod
    def of(errors: Sequence[Exception], calls: int) -> Failures:
        """The group for these errors: a ServiceError when every one is (callers that handle
        one AWS or Slack failure handle several alike), transient only when every one is."""
        message = f"{len(errors)} of {calls} calls failed: " + "; ".join(map(str, errors))
        if all(isinstance(error, TransientError) for error in errors):
            return TransientFailures(message, errors)
        if all(isinstance(error, ServiceError) for error in errors):
            return ServiceFailures(message, errors)
        return Failures(message, errors)


class ServiceFailures(Failures, ServiceError):
    """Several AWS or Slack calls failed, at least one for a reason a retry will not fix."""


class TransientFailures(ServiceFailures, TransientError):
    """Several AWS or Slack calls failed, each in a way a retry may fix."""


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


def _outcome(call: Callable[[], Any]) -> tuple[Any, Exception | None]:
    try:
        return call(), None
    except Exception as error:
        return None, error


def _settled(future: Future[Any]) -> tuple[Any, Exception | None]:
    try:
        return future.result(), None
    except Exception as error:
        return None, error
