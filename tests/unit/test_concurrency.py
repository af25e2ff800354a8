"""Independent calls side by side: results in order, every call run, every failure reported."""

from __future__ import annotations

import threading

import pytest

from bot.concurrency import Once, in_background, together
from bot.errors import ServiceError, TransientError


def test_the_calls_run_at_the_same_time_and_answer_in_order() -> None:
    # Each call waits for all three to have started: one after the other, they never would.
    started = threading.Barrier(3, timeout=5)

    def call(n: int) -> int:
        started.wait()
        return n

    assert together(lambda: call(1), lambda: call(2), lambda: call(3)) == [1, 2, 3]


def test_every_call_runs_and_a_lone_failure_is_raised_as_it_is() -> None:
    ran: list[str] = []

    def fails(name: str) -> None:
        ran.append(name)
        raise RuntimeError(name)

    with pytest.raises(RuntimeError, match="second"):
        together(lambda: ran.append("first"), lambda: fails("second"), lambda: ran.append("third"))
    assert sorted(ran) == ["first", "second", "third"]


def test_every_failure_is_reported_not_only_the_first() -> None:
    first, second = RuntimeError("the audit write"), KeyError("the card write")

    def fail(error: Exception) -> None:
        raise error

    with pytest.raises(ExceptionGroup) as raised:
        together(lambda: fail(first), lambda: None, lambda: fail(second))

    assert raised.value.exceptions == (first, second)
    assert str(raised.value).startswith("2 of 3 calls failed: the audit write; 'the card write'")


def test_service_failures_together_are_still_a_service_error_and_transient_only_if_all_are() -> (
    None
):
    def fail(error: Exception) -> None:
        raise error

    throttled, down = TransientError("DynamoDB throttled"), TransientError("Slack 503")
    with pytest.raises(TransientError) as transient:
        together(lambda: fail(throttled), lambda: fail(down))
    assert transient.value.exceptions == (throttled, down)  # type: ignore[attr-defined]

    refused = ServiceError("AccessDenied")
    with pytest.raises(ServiceError) as service:
        together(lambda: fail(throttled), lambda: fail(refused))
    # One of them a retry will not fix: the whole is not transient.
    assert not isinstance(service.value, TransientError)
    assert service.value.exceptions == (throttled, refused)  # type: ignore[attr-defined]


def test_calls_made_from_inside_a_worker_run_in_its_thread() -> None:
    # Workers that queued their own calls on the pool they fill would wait on each other forever.
    def thread_name() -> str:
        return threading.current_thread().name

    def nested() -> set[str]:
        return set(together(*[thread_name] * 4)) - {thread_name()}

    first, *on_workers = together(*[nested] * 4)
    assert on_workers == [set(), set(), set()]
    assert first  # the caller's own thread is no worker: its calls went to the pool


def test_a_background_call_reports_through_its_future() -> None:
    assert in_background(lambda: 42).result(timeout=5) == 42
    with pytest.raises(ZeroDivisionError):
        in_background(lambda: 1 / 0).result(timeout=5)


def test_a_once_value_is_made_once_for_threads_asking_together_and_a_failure_is_not_kept() -> None:
    made: list[int] = []
    asked = threading.Barrier(4, timeout=5)

    def make() -> int:
        made.append(1)
        if len(made) == 1:
            raise RuntimeError("the first try fails")
        return len(made)

    value = Once(make)
    with pytest.raises(RuntimeError):
        value()

    def ask() -> int:
        asked.wait()
        return int(value())

    assert together(ask, ask, ask, ask) == [2, 2, 2, 2]
    assert len(made) == 2
