"""Slack Web API I/O: post and update cards, thread replies, ephemeral messages, DMs, modals."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.error import URLError

import msgspec
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.handler import default_interval_calculator
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.models.blocks import Block
from slack_sdk.models.metadata import Metadata
from slack_sdk.models.views import View

from bot.errors import ServiceError, TransientError
from bot.models import CardRef

logger = logging.getLogger(__name__)

_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}
)
# Slack's own words for these: "It's possible some aspect of the operation succeeded before the
# error was raised." A post that ends so may be in the channel.
_MAYBE_DONE_ERRORS = frozenset({"internal_error", "fatal_error"})
POST_EVENT_TYPE = "signoff_post"
# How far back a lookup reads a channel, newest first: 5 pages of Slack's recommended 200.
_LOOKUP_PAGE = 200
_LOOKUP_PAGES = 5


class PostKey(msgspec.Struct, frozen=True):
    """A stable name for a message Signoff posts once (a card, a flow's root, a pointer).

    It travels in the message's metadata, so a post whose answer never came back can be found
    in the channel afterwards instead of being posted a second time.
    """

    value: str

    def metadata(self) -> Metadata:
        return Metadata(event_type=POST_EVENT_TYPE, event_payload={"key": self.value})

    def marks(self, message: Mapping[str, Any]) -> bool:
        metadata = message.get("metadata")
        if not isinstance(metadata, Mapping) or metadata.get("event_type") != POST_EVENT_TYPE:
            return False
        payload = metadata.get("event_payload")
        return isinstance(payload, Mapping) and payload.get("key") == self.value


def reply_key(subject: str, claim: str) -> PostKey:
    """What a thread line is known by in Slack: its subject (an execution, a flow) and the claim
    that guards it, so a reply Slack failed after it landed is found, not posted twice."""
    return PostKey(f"reply#{subject}#{claim}")


class PostUnconfirmed(TransientError):
    """chat.postMessage went out and no clear answer came back: the message may be in Slack.

    Posting it again blindly could show it twice. Keep whatever claim guards the post and look
    for the message first (`SlackGateway.find_posted`).
    """


class _MaybePosted(Exception):
    """A post Slack answered with a server error: it may or may not have posted it."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class Slack(Protocol):
    """What the services need of Slack's Web API; SlackGateway is the real one."""

    def get_ready(self) -> None: ...

    def post(
        self,
        channel: str,
        text: str,
        blocks: Sequence[Block] = (),
        thread_ts: str | None = None,
        *,
        key: PostKey | None = None,
    ) -> CardRef: ...

    def find_posted(
        self, channel: str, key: PostKey, *, thread_ts: str | None = None
    ) -> CardRef | None: ...

    def permalink(self, ref: CardRef) -> str: ...

    def update(self, ref: CardRef, text: str, blocks: Sequence[Block]) -> None: ...

    def reply(
        self, ref: CardRef, text: str, blocks: Sequence[Block] = (), *, key: PostKey | None = None
    ) -> CardRef: ...

    def ephemeral(self, channel: str, user: str, text: str) -> None: ...

    def dm(self, user: str, text: str, blocks: Sequence[Block] = ()) -> CardRef: ...

    def open_view(self, trigger_id: str, view: View) -> str: ...

    def update_view(
        self, view: View, *, view_id: str | None = None, external_id: str | None = None
    ) -> None: ...


class HomeTabs(Protocol):
    """What the Home tab needs of Slack: one view per person (views.publish)."""

    def publish_home(self, user: str, view: View) -> None: ...


class SlackGateway:
    """Every Slack Web API call the services make, with SlackApiError turned into domain errors."""

    def __init__(
        self,
        client: WebClient,
        *,
        retries: int = 3,
        interval: RetryIntervalCalculator = default_interval_calculator,
    ) -> None:
        self._client = client
        self._retries = retries
        self._interval = interval

    def get_ready(self) -> None:
        """Have the bot token at hand for a call about to come (a function that reads it on
        first need reads it now, beside other work). Best effort: on failure the call asks
        again and raises."""
        try:
            _ = self._client.token
        except Exception:
            logger.debug("bot token not ready; the first Slack call asks again", exc_info=True)

    def post(
        self,
        channel: str,
        text: str,
        blocks: Sequence[Block] = (),
        thread_ts: str | None = None,
        *,
        key: PostKey | None = None,
    ) -> CardRef:
        """Post a message; with a `key`, one Slack may have taken is looked for, not re-posted.

        Raises PostUnconfirmed when Slack had the request and never answered: the message may
        be in the channel, and only a later `find_posted` can tell.
        """
        args: dict[str, Any] = {
            "channel": channel,
            "text": text,
            "blocks": list(blocks) or None,
            "thread_ts": thread_ts,
            "unfurl_links": False,
            "metadata": key.metadata() if key else None,
        }
        for attempt in range(1, self._retries + 2):
            try:
                response = self._call("chat_postMessage", **args)
                return CardRef(channel=str(response["channel"]), ts=str(response["ts"]))
            except _MaybePosted as failed:
                error = failed.error
            # Slack answered, so that request is over: if it posted, the message is there now.
            found = self._look_after_failure(channel, key, thread_ts, error) if key else None
            if found is not None:
                logger.info("a post Slack failed had landed; using it", extra={"channel": channel})
                return found
            if attempt <= self._retries:
                time.sleep(self._interval.calculate_sleep_duration(attempt))
        raise TransientError(f"Slack failed chat.postMessage {self._retries + 1} times ({error})")

    def _look_after_failure(
        self, channel: str, key: PostKey, thread_ts: str | None, error: str
    ) -> CardRef | None:
        try:
            return self.find_posted(channel, key, thread_ts=thread_ts)
        except ServiceError as exc:
            raise PostUnconfirmed(
                f"Slack failed chat.postMessage ({error}) and the message may have been posted: "
                f"{exc}"
            ) from exc

    def find_posted(
        self, channel: str, key: PostKey, *, thread_ts: str | None = None
    ) -> CardRef | None:
        """The message posted under `key` in the channel (or in the thread), if Slack has it.

        Reads the channel newest first, at most the latest 1,000 messages, or the whole thread.
        Raises when Slack will not show them (a missing channels:history or groups:history
        scope, a channel the bot is not in): nobody can tell then whether the message is there,
        so the caller must not post it again.
        """
        method = "conversations_replies" if thread_ts else "conversations_history"
        cursor: str | None = None
        for _ in range(_LOOKUP_PAGES):
            try:
                page = self._call(
                    method,
                    channel=channel,
                    ts=thread_ts,
                    limit=_LOOKUP_PAGE,
                    cursor=cursor,
                    include_all_metadata=True,
                )
            except ServiceError as exc:
                raise type(exc)(
                    f"Could not look in {channel} for a message Signoff may already have posted, "
                    f"so it was not posted again ({exc}). The Slack app needs channels:history "
                    "and groups:history (infra/slack-manifest.yaml) and must be in the channel."
                ) from exc
            for message in page.get("messages") or []:
                if isinstance(message, Mapping) and key.marks(message):
                    return CardRef(channel=channel, ts=str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return None
        return None

    def permalink(self, ref: CardRef) -> str:
        """A link that opens the message in Slack (in its thread, for a reply)."""
        response = self._call("chat_getPermalink", channel=ref.channel, message_ts=ref.ts)
        return str(response["permalink"])

    def update(self, ref: CardRef, text: str, blocks: Sequence[Block]) -> None:
        self._call("chat_update", channel=ref.channel, ts=ref.ts, text=text, blocks=list(blocks))

    def reply(
        self, ref: CardRef, text: str, blocks: Sequence[Block] = (), *, key: PostKey | None = None
    ) -> CardRef:
        """A message in `ref`'s thread; with a `key`, one Slack failed after it landed is found
        in the thread (conversations.replies), not posted twice."""
        return self.post(ref.channel, text, blocks, thread_ts=ref.ts, key=key)

    def ephemeral(self, channel: str, user: str, text: str) -> None:
        self._call("chat_postEphemeral", channel=channel, user=user, text=text)

    def dm(self, user: str, text: str, blocks: Sequence[Block] = ()) -> CardRef:
        response = self._call("conversations_open", users=user)
        return self.post(str(response["channel"]["id"]), text, blocks)

    def open_view(self, trigger_id: str, view: View) -> str:
        response = self._call("views_open", trigger_id=trigger_id, view=view)
        return str(response["view"]["id"])

    def update_view(
        self, view: View, *, view_id: str | None = None, external_id: str | None = None
    ) -> None:
        self._call("views_update", view_id=view_id, external_id=external_id, view=view)

    def publish_home(self, user: str, view: View) -> None:
        """Replace `user`'s Home tab (views.publish; without a hash, the latest publish wins)."""
        self._call("views_publish", user_id=user, view=view)

    def _call(self, method: str, **kwargs: object) -> dict[str, Any]:
        args = {k: v for k, v in kwargs.items() if v is not None}
        name = method.replace("_", ".", 1)
        try:
            response = getattr(self._client, method)(**args)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            if method == "chat_postMessage" and (
                exc.response.status_code >= 500 or error in _MAYBE_DONE_ERRORS
            ):
                raise _MaybePosted(error) from exc
            kind = TransientError if error in _TRANSIENT_ERRORS else ServiceError
            raise kind(f"Slack refused {name}: {error}") from exc
        except URLError as exc:
            # Never sent whole (urllib raises it while connecting and sending), after the
            # retry handler's own retries.
            raise TransientError(f"Slack could not be reached for {name}") from exc
        except OSError as exc:
            # A timeout or a dropped connection while waiting for the answer: Slack may have
            # done it.
            if method == "chat_postMessage":
                raise PostUnconfirmed(
                    f"Slack did not answer {name}; the message may have been posted"
                ) from exc
            raise TransientError(f"Slack did not answer {name}") from exc
        data: dict[str, Any] = response.data if isinstance(response.data, dict) else {}
        return data
