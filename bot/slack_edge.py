"""Bolt middleware at Slack's edge: only Signoff's own workspace and app, each request once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from slack_bolt import BoltContext, BoltRequest, BoltResponse

from bot.errors import ServiceError

logger = logging.getLogger(__name__)

Middleware = Callable[..., BoltResponse | None]
# What a refused request gets. Slack never sends one of these itself, so nobody reads it.
_REFUSED = 401
_UNAVAILABLE = 503


class RequestLog(Protocol):
    """The requests acted on, by signature (bot.gateways.tables.SlackRequestLog)."""

    def first_time(self, signature: str) -> bool: ...

    def claim_lazy(self, signature: str, function: str) -> bool: ...


def pinned_workspace(team_id: str, app_id: str | None) -> Middleware:
    """Refuse a request from any workspace but `team_id` (and any app but `app_id`, if set).

    Bolt has verified the signature by now; a signature only says the request came from Slack
    for an app holding this signing secret, in any workspace the app is installed in.
    """

    def pin_workspace(
        context: BoltContext, body: dict[str, object], next: Callable[[], None]
    ) -> BoltResponse | None:
        # Bolt's context reads the workspace the app is installed in from every payload shape
        # (slack_bolt/request/internals.py: extract_team_id, extract_enterprise_id).
        app = body.get("api_app_id")
        if context.team_id != team_id or (app_id is not None and app != app_id):
            logger.warning(
                "Slack request from another workspace or app; refused",
                extra={
                    "team_id": context.team_id,
                    "enterprise_id": context.enterprise_id,
                    "api_app_id": app,
                },
            )
            return BoltResponse(status=_REFUSED, body="")
        next()
        return None

    return pin_workspace


def once_per_request(requests: RequestLog) -> Middleware:
    """Refuse a request Signoff has already acted on (a captured request sent again).

    Slack signs each request once (timestamp and body); its 5-minute window lets a captured one
    be sent again while it is still valid. The acknowledging pass records the signature with a
    conditional put; a second one is refused. On Lambda, Bolt runs a lazy listener by invoking
    the function again with the SAME signed event plus two headers (slack_bolt/adapter/
    aws_lambda/lazy_listener_runner.py: x-slack-bolt-lazy-only, x-slack-bolt-lazy-function-name),
    and that pass runs this middleware too (App.dispatch, then ThreadListenerRunner.run with
    request.lazy_only). Anyone can add those headers to a replay through the Function URL, so a
    lazy pass must find its request recorded, and runs each lazy function once.
    """

    def refuse_replays(req: BoltRequest, next: Callable[[], None]) -> BoltResponse | None:
        if req.mode == "socket_mode":
            # `signoff dev`: the request came down the app's own WebSocket, opened with the
            # app-level token, and carries no signature to record (Bolt's RequestVerification
            # skips these too). Only an adapter sets the mode; the Function URL's is "http".
            next()
            return None
        signature = _first(req, "x-slack-signature")
        try:
            if req.lazy_only:
                fresh = requests.claim_lazy(signature, req.lazy_function_name or "")
            else:
                fresh = requests.first_time(signature)
        except ServiceError:
            # Unable to tell a replay from the original: act on neither. Slack shows the person
            # an error; they click again.
            logger.exception("could not check a Slack request against replays; refused")
            return BoltResponse(status=_UNAVAILABLE, body="")
        if not fresh:
            logger.warning(
                "Slack request seen before (a replay); refused",
                extra={"lazy_function": req.lazy_function_name if req.lazy_only else None},
            )
            return BoltResponse(status=_REFUSED, body="")
        next()
        return None

    return refuse_replays


def _first(req: BoltRequest, header: str) -> str:
    values = req.headers.get(header) or [""]
    return str(values[0])
