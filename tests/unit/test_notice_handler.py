"""The SNS notice Lambda: each record's message, id and topic reach the notice service."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import handlers.approval_notice
from bot.models import CardRef
from tests.support.signed import LambdaContext

TOPIC = "arn:aws:sns:us-east-1:123456789012:Automation-level1"


class Notices:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def handle(self, message: str, message_id: str, topic_arn: str) -> CardRef | None:
        self.seen.append((message, message_id, topic_arn))
        return CardRef("C0APPROVALS", "1.000001") if "card" in message else None


def record(message: Any, message_id: str = "m-1") -> dict[str, Any]:
    return {
        "EventSource": "aws:sns",
        "Sns": {"Message": message, "MessageId": message_id, "TopicArn": TOPIC},
    }


def run(monkeypatch: pytest.MonkeyPatch, event: dict[str, Any]) -> tuple[Any, Notices]:
    notices = Notices()
    monkeypatch.setattr(
        handlers.approval_notice, "services", lambda: SimpleNamespace(notices=notices)
    )
    return handlers.approval_notice.lambda_handler(event, LambdaContext()), notices  # type: ignore[arg-type]


def test_every_record_is_handled_and_posted_cards_are_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = {"Records": [record("a card, please", "m-1"), record("nothing to post", "m-2")]}

    result, notices = run(monkeypatch, event)

    assert result == {"posted": 1}
    assert notices.seen == [("a card, please", "m-1", TOPIC), ("nothing to post", "m-2", TOPIC)]


def test_a_record_without_an_sns_message_is_skipped_not_fatal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = {"Records": [{"EventSource": "aws:sqs"}, record(None), record("a card", "m-3")]}

    result, notices = run(monkeypatch, event)

    assert result == {"posted": 1}
    assert notices.seen == [("a card", "m-3", TOPIC)]


def test_an_event_without_records_posts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(monkeypatch, {})[0] == {"posted": 0}


@pytest.mark.parametrize(
    "event",
    [{"Records": "notalist"}, {"Records": {"Sns": {}}}, {"Records": 5}, {"Records": ["x", 3]}],
)
def test_an_event_that_is_not_a_list_of_sns_records_is_ignored_with_a_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, event: dict[str, Any]
) -> None:
    result, notices = run(monkeypatch, event)

    assert result == {"posted": 0}
    assert notices.seen == []
    assert any("ignored" in r.getMessage() or "skipped" in r.getMessage() for r in caplog.records)


def test_a_notice_whose_execution_id_is_not_a_uuid_posts_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.notices import NoticeService

    class Approvals:
        def announce(self, execution_id: str) -> None:
            raise AssertionError(f"asked SSM about {execution_id!r}")

    service = NoticeService(Approvals())  # type: ignore[arg-type]
    for message in ('{"ExecutionId": "not-a-uuid"}', '{"ExecutionId": 7}', "execution ../../x"):
        assert service.handle(message, "m-1", TOPIC) is None
    assert sum("without an execution id" in r.getMessage() for r in caplog.records) == 3
