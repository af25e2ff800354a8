"""SlackGateway: a post Slack may have taken is found again, never posted twice; permalinks."""

from __future__ import annotations

from typing import Any
from urllib.error import URLError

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.models.metadata import Metadata
from slack_sdk.web import SlackResponse

from bot.errors import ServiceError, TransientError
from bot.gateways.slack import PostKey, PostUnconfirmed, SlackGateway, reply_key
from bot.gateways.slack_client import web_client
from bot.models import CardRef

KEY = PostKey("card#00000000-0000-4000-8000-000000000001#approve")
CHANNEL = "C0APPROVALS"


def response(status: int = 200, **data: Any) -> SlackResponse:
    return SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.example/api/",
        req_args={},
        data=data,
        headers={},
        status_code=status,
    )


def refused(error: str, status: int = 200) -> SlackApiError:
    return SlackApiError(error, response(status, ok=False, error=error))


def marked(ts: str, key: PostKey = KEY) -> dict[str, Any]:
    metadata = {"event_type": "signoff_post", "event_payload": {"key": key.value}}
    return {"ts": ts, "text": "card", "metadata": metadata}


class FakeClient:
    """slack_sdk's WebClient as the gateway calls it; each method answers from a script."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.posts: list[Any] = []  # per call: an exception to raise, or a ts to answer
        self.pages: list[Any] = []  # per history/replies call: an exception or a page
        self.permalinks: list[Any] = []

    def _next(self, script: list[Any]) -> Any:
        step = script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step

    def chat_postMessage(self, **kwargs: Any) -> SlackResponse:
        self.calls.append(("chat.postMessage", kwargs))
        ts = self._next(self.posts) if self.posts else "1700000000.000100"
        return response(ok=True, channel=kwargs["channel"], ts=ts)

    def conversations_history(self, **kwargs: Any) -> SlackResponse:
        self.calls.append(("conversations.history", kwargs))
        return response(ok=True, **self._next(self.pages))

    def conversations_replies(self, **kwargs: Any) -> SlackResponse:
        self.calls.append(("conversations.replies", kwargs))
        return response(ok=True, **self._next(self.pages))

    def chat_getPermalink(self, **kwargs: Any) -> SlackResponse:
        self.calls.append(("chat.getPermalink", kwargs))
        return response(ok=True, channel=kwargs["channel"], permalink=self._next(self.permalinks))

    def methods(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def slack(client: FakeClient) -> SlackGateway:
    return SlackGateway(client, interval=FixedValueRetryIntervalCalculator(0))  # type: ignore[arg-type]


def page(*messages: dict[str, Any], cursor: str = "") -> dict[str, Any]:
    return {"messages": list(messages), "response_metadata": {"next_cursor": cursor}}


# -- posting ---------------------------------------------------------------------------------


def test_a_keyed_post_carries_its_key_in_the_message_metadata(
    client: FakeClient, slack: SlackGateway
) -> None:
    ref = slack.post(CHANNEL, "card", key=KEY)

    assert ref == CardRef(CHANNEL, "1700000000.000100")
    [(_, args)] = client.calls
    metadata = args["metadata"]
    assert isinstance(metadata, Metadata)
    assert metadata.to_dict() == {
        "event_type": "signoff_post",
        "event_payload": {"key": KEY.value},
    }
    slack.post(CHANNEL, "a reply", thread_ts=ref.ts)
    assert "metadata" not in client.calls[1][1], "only keyed posts carry metadata"


def test_a_post_that_timed_out_is_unconfirmed_and_neither_looked_for_nor_repeated(
    client: FakeClient, slack: SlackGateway
) -> None:
    # Slack had the whole request: it may still land, so a look now proves nothing.
    client.posts = [TimeoutError("The read operation timed out")]

    with pytest.raises(PostUnconfirmed, match="may have been posted"):
        slack.post(CHANNEL, "card", key=KEY)
    assert client.methods() == ["chat.postMessage"]


def test_a_post_that_never_reached_slack_is_a_plain_transient_failure(
    client: FakeClient, slack: SlackGateway
) -> None:
    client.posts = [URLError(ConnectionRefusedError(111, "Connection refused"))]

    with pytest.raises(TransientError) as failed:
        slack.post(CHANNEL, "card", key=KEY)
    assert not isinstance(failed.value, PostUnconfirmed)


def test_a_5xx_after_the_post_landed_adopts_the_message_instead_of_posting_again(
    client: FakeClient, slack: SlackGateway
) -> None:
    client.posts = [refused("internal_error", 500)]
    client.pages = [page({"ts": "1700000000.000300", "text": "other"}, marked("1700000000.000200"))]

    assert slack.post(CHANNEL, "card", key=KEY) == CardRef(CHANNEL, "1700000000.000200")
    assert client.methods() == ["chat.postMessage", "conversations.history"]
    _, lookup = client.calls[1]
    assert lookup["channel"] == CHANNEL and lookup["include_all_metadata"] is True


def test_a_5xx_whose_post_is_not_in_the_channel_is_posted_again(
    client: FakeClient, slack: SlackGateway
) -> None:
    client.posts = [refused("fatal_error"), "1700000000.000400"]
    client.pages = [page(marked("1700000000.000001", PostKey("card#another#approve")))]

    assert slack.post(CHANNEL, "card", key=KEY).ts == "1700000000.000400"
    assert client.methods() == ["chat.postMessage", "conversations.history", "chat.postMessage"]


def test_a_post_failing_every_time_gives_up_as_not_posted_after_looking_each_time(
    client: FakeClient, slack: SlackGateway
) -> None:
    client.posts = [refused("internal_error", 503)] * 4
    client.pages = [page()] * 4

    with pytest.raises(TransientError, match="4 times") as failed:
        slack.post(CHANNEL, "card", key=KEY)
    assert not isinstance(failed.value, PostUnconfirmed)
    assert client.methods() == ["chat.postMessage", "conversations.history"] * 4


def test_a_5xx_whose_lookup_fails_is_unconfirmed_and_not_posted_again(
    client: FakeClient, slack: SlackGateway
) -> None:
    client.posts = [refused("internal_error", 500)]
    client.pages = [refused("missing_scope")]

    with pytest.raises(PostUnconfirmed, match="channels:history"):
        slack.post(CHANNEL, "card", key=KEY)
    assert client.methods() == ["chat.postMessage", "conversations.history"]


def test_an_unkeyed_post_is_retried_on_a_5xx_without_looking(
    client: FakeClient, slack: SlackGateway
) -> None:
    client.posts = [refused("internal_error", 500), "1700000000.000500"]

    assert slack.post(CHANNEL, "reply", thread_ts="1700000000.000100").ts == "1700000000.000500"
    assert client.methods() == ["chat.postMessage", "chat.postMessage"]


def test_a_keyed_reply_slack_failed_after_it_landed_is_found_in_the_thread(
    client: FakeClient, slack: SlackGateway
) -> None:
    card = CardRef(CHANNEL, "1700000000.000100")
    line = reply_key("00000000-0000-4000-8000-000000000001", "outcome#approve")
    client.posts = [refused("internal_error", 502)]
    client.pages = [page({"ts": card.ts, "text": "card"}, marked("1700000000.000700", line))]

    assert slack.reply(card, "Approved.", key=line) == CardRef(CHANNEL, "1700000000.000700")
    assert client.methods() == ["chat.postMessage", "conversations.replies"]
    posted, lookup = client.calls[0][1], client.calls[1][1]
    assert posted["thread_ts"] == card.ts and posted["metadata"] == line.metadata()
    assert lookup["ts"] == card.ts


def test_reply_keys_name_the_subject_and_the_claim_that_guards_the_line() -> None:
    key = reply_key("flow-1", "outcome")

    assert key.value == "reply#flow-1#outcome"
    assert key != reply_key("flow-2", "outcome") and key != reply_key("flow-1", "late#e-1")


def test_a_refused_post_is_a_plain_error(client: FakeClient, slack: SlackGateway) -> None:
    client.posts = [refused("not_in_channel")]

    with pytest.raises(ServiceError, match="not_in_channel") as failed:
        slack.post(CHANNEL, "card", key=KEY)
    assert not isinstance(failed.value, TransientError)
    assert client.methods() == ["chat.postMessage"]


# -- finding a post again ----------------------------------------------------------------------


def test_find_posted_reads_the_channel_page_by_page(
    client: FakeClient, slack: SlackGateway
) -> None:
    client.pages = [
        page({"ts": "3.0", "text": "no metadata"}, cursor="c1"),
        page({"ts": "2.0", "metadata": {"event_type": "other_app"}}, marked("1.0")),
    ]

    assert slack.find_posted(CHANNEL, KEY) == CardRef(CHANNEL, "1.0")
    assert [args.get("cursor") for _, args in client.calls] == [None, "c1"]


def test_find_posted_looks_in_the_thread_for_a_reply(
    client: FakeClient, slack: SlackGateway
) -> None:
    client.pages = [page({"ts": "1.0"}, marked("1.5"))]

    assert slack.find_posted(CHANNEL, KEY, thread_ts="1.0") == CardRef(CHANNEL, "1.5")
    [(method, args)] = client.calls
    assert (method, args["ts"]) == ("conversations.replies", "1.0")


def test_find_posted_finds_nothing_in_a_channel_without_the_message(
    client: FakeClient, slack: SlackGateway
) -> None:
    client.pages = [page(*[{"ts": f"{i}.0"} for i in range(200)], cursor="c")] * 5

    assert slack.find_posted(CHANNEL, KEY) is None
    assert len(client.calls) == 5, "at most the latest 1,000 messages"


def test_find_posted_says_what_the_app_lacks_when_slack_refuses(
    client: FakeClient, slack: SlackGateway
) -> None:
    client.pages = [refused("not_in_channel")]

    with pytest.raises(ServiceError) as failed:
        slack.find_posted(CHANNEL, KEY)
    assert "not_in_channel" in str(failed.value)
    assert "channels:history and groups:history" in str(failed.value)
    assert "not posted again" in str(failed.value)


# -- permalinks ------------------------------------------------------------------------------


def test_permalink_asks_slack_for_the_messages_link(
    client: FakeClient, slack: SlackGateway
) -> None:
    client.permalinks = ["https://signoff.slack.com/archives/C0APPROVALS/p1700000000000100"]

    link = slack.permalink(CardRef(CHANNEL, "1700000000.000100"))

    assert link == "https://signoff.slack.com/archives/C0APPROVALS/p1700000000000100"
    assert client.calls == [
        ("chat.getPermalink", {"channel": CHANNEL, "message_ts": "1700000000.000100"})
    ]


def test_a_permalink_slack_refuses_is_a_service_error(
    client: FakeClient, slack: SlackGateway
) -> None:
    client.permalinks = [refused("message_not_found")]

    with pytest.raises(ServiceError, match=r"chat\.getPermalink: message_not_found"):
        slack.permalink(CardRef(CHANNEL, "1.0"))


# -- getting ready ---------------------------------------------------------------------------


def test_getting_ready_reads_a_token_asked_for_on_first_need_once() -> None:
    asked: list[str] = []

    def token() -> str:
        asked.append("secret read")
        return "xoxb-fake-not-a-real-token"

    gateway = SlackGateway(web_client(token, "http://127.0.0.1:9/api/"))
    gateway.get_ready()
    gateway.get_ready()

    assert asked == ["secret read"]


def test_a_token_that_cannot_be_read_yet_is_asked_for_again_by_the_call() -> None:
    answers: list[Any] = [ServiceError("Secrets Manager did not answer"), "xoxb-fake-token"]

    def token() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    client = web_client(token, "http://127.0.0.1:9/api/")
    SlackGateway(client).get_ready()  # not raised: the call that needs it will ask

    assert client.token == "xoxb-fake-token"
