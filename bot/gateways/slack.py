"""Slack Web API I/O: post and update cards, thread replies, ephemeral messages, DMs, modals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.errors import ServiceError, TransientError
from bot.models import CardRef

_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}
)


def web_client(token: str, base_url: str, *, retries: int = 3) -> WebClient:
    """A WebClient that waits out 429s (Retry-After) and retries 5xx and dropped connections.

    The retry handlers sleep, so use this client only off the 3-second ack path (lazy listeners,
    SNS and EventBridge handlers); slack_sdk retries nothing but connection errors by default.
    """
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=retries),
            RateLimitErrorRetryHandler(max_retry_count=retries),
            ServerErrorRetryHandler(max_retry_count=retries),
        ],
    )


class SlackGateway:
    """Every Slack Web API call the services make, with SlackApiError turned into domain errors."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def post(
        self, channel: str, text: str, blocks: Sequence[Block] = (), thread_ts: str | None = None
    ) -> CardRef:
        response = self._call(
            "chat_postMessage",
            channel=channel,
            text=text,
            blocks=list(blocks) or None,
            thread_ts=thread_ts,
            unfurl_links=False,
        )
        return CardRef(channel=str(response["channel"]), ts=str(response["ts"]))

    def update(self, ref: CardRef, text: str, blocks: Sequence[Block]) -> None:
        self._call("chat_update", channel=ref.channel, ts=ref.ts, text=text, blocks=list(blocks))

    def reply(self, ref: CardRef, text: str, blocks: Sequence[Block] = ()) -> CardRef:
        return self.post(ref.channel, text, blocks, thread_ts=ref.ts)

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

    def _call(self, method: str, **kwargs: object) -> dict[str, Any]:
        args = {k: v for k, v in kwargs.items() if v is not None}
        try:
            response = getattr(self._client, method)(**args)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            kind = TransientError if error in _TRANSIENT_ERRORS else ServiceError
            raise kind(f"Slack refused {method.replace('_', '.', 1)}: {error}") from exc
        except OSError as exc:
            # Connection errors and timeouts that outlasted the retry handlers.
            raise TransientError(f"Slack did not answer {method.replace('_', '.', 1)}") from exc
        data: dict[str, Any] = response.data if isinstance(response.data, dict) else {}
        return data
