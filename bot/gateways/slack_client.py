"""The Slack Web API client Signoff calls through: its retries and the process's one TLS context."""

from __future__ import annotations

import time
from collections.abc import Callable
from ssl import PROTOCOL_TLS_CLIENT, Purpose, SSLContext
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.concurrency import Once


def _is_post(request: HttpRequest) -> bool:
    return request.url.rstrip("/").endswith("/chat.postMessage")


class UnsentConnectionRetryHandler(ConnectionErrorRetryHandler):
    """Dropped connections; for chat.postMessage only those that failed before it was sent.

    urllib raises URLError while connecting and sending; a reset or a timeout while waiting for
    the answer comes after Slack had the whole request, and may have posted it.
    """

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _is_post(request) and not isinstance(error, URLError):
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


class NotPostServerErrorRetryHandler(ServerErrorRetryHandler):
    """5xx for every method but chat.postMessage: SlackGateway.post looks before it re-posts."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _is_post(request):
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


# A 429 is Slack pacing a channel (about 1 message/s; platform facts C.4). When many notices
# reach one channel at once, the last waits about a second for each card ahead of it: wait it
# out for this long (the functions that post have 60 s) instead of failing after a few tries and
# coming back minutes later through Lambda's retries, behind cards that were not even waiting.
RATE_LIMIT_PATIENCE_SECONDS = 40.0


class PatientRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Honours Retry-After on every 429 of one call for up to `patience` seconds in all."""

    def __init__(
        self, patience: float = RATE_LIMIT_PATIENCE_SECONDS, clock: Any = time.monotonic
    ) -> None:
        super().__init__(max_retry_count=1_000)
        self._patience = patience
        self._clock = clock

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        if state.custom_values is None:
            state.custom_values = {}
        since = state.custom_values.setdefault("rate_limited_since", self._clock())
        return bool(self._clock() - since < self._patience)


class SharedTlsContext(SSLContext):
    """A TLS context meant to be shared: copying it gives the context itself.

    Bolt deep-copies each request's context, its `client` included, before it starts a lazy
    listener (slack_bolt's ThreadListenerRunner builds the lazy request with `copy.deepcopy`),
    and an SSLContext cannot be copied: given a plain one, every click with a lazy listener
    raised over HTTPS. The context holds no per-request state, so the copy may be the original.
    """

    def __copy__(self) -> SharedTlsContext:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> SharedTlsContext:
        return self


def _new_tls_context() -> SSLContext:
    # What urllib makes for a connection when given none (ssl.create_default_context): the
    # default CA store (SSL_CERT_FILE and SSL_CERT_DIR honoured), certificate and host name
    # checked; HTTP/1.1 offered by ALPN.
    context = SharedTlsContext(PROTOCOL_TLS_CLIENT)
    context.load_default_certs(Purpose.SERVER_AUTH)
    context.set_alpn_protocols(["http/1.1"])
    return context


# The one TLS context of every HTTPS call to Slack in this process (docs/decisions/0008-shared-
# tls.md): given none, urllib makes a context for every connection and loads the system's CA
# certificates into it, and slack_sdk opens a connection for every call.
_SHARED_TLS = Once(_new_tls_context)


def tls_context(base_url: str) -> SSLContext | None:
    """The `ssl` to give a WebClient calling `base_url`: the process's shared context for HTTPS,
    None for plain HTTP (the sandbox's emulator), which needs none. Bolt gives each request's
    client its app client's `ssl`, so they share it too."""
    return _SHARED_TLS() if base_url.lower().startswith("https://") else None


class _TokenOnFirstCall(WebClient):
    """A WebClient that asks for its bot token when it first calls Slack.

    A deployed function reads the token from Secrets Manager, a round trip at cold start; one
    that never calls Slack (a Step Functions level start) should not make it.
    """

    def __init__(self, token: Callable[[], str], **kwargs: Any) -> None:
        self._source: Callable[[], str] | None = token
        self._token: str | None = None
        super().__init__(token=None, **kwargs)

    @property
    def token(self) -> str | None:
        if self._token is None and self._source is not None:
            self._token = self._source().strip()
            self._source = None
        return self._token

    @token.setter
    def token(self, value: str | None) -> None:
        if value is not None:
            self._token, self._source = value, None


def web_client(token: str | Callable[[], str], base_url: str, *, retries: int = 3) -> WebClient:
    """A WebClient that waits out 429s (Retry-After, for up to RATE_LIMIT_PATIENCE_SECONDS)
    and retries 5xx and dropped connections `retries` times. `token` may be a function that
    returns it, called on the first Slack call.

    Posts are the exception: a chat.postMessage that failed after Slack had it may have landed,
    so SlackGateway (bot.gateways.slack) retries those itself, looking for the message first.
    The retry handlers sleep, so use this client only off the 3-second ack path (lazy
    listeners, SNS and EventBridge handlers); slack_sdk retries nothing but connection errors
    by default.
    """
    settings: dict[str, Any] = {
        "base_url": base_url,
        "ssl": tls_context(base_url),
        "timeout": 10,
        "retry_handlers": [
            UnsentConnectionRetryHandler(max_retry_count=retries),
            PatientRateLimitRetryHandler(),
            NotPostServerErrorRetryHandler(max_retry_count=retries),
        ],
    }
    if callable(token):
        return _TokenOnFirstCall(token, **settings)
    return WebClient(token=token, **settings)
