"""Bolt behind a Function URL, with Slack's signature checked before Bolt reads the body.

What Bolt's own Lambda adapter (slack_bolt.adapter.aws_lambda) does for a Function URL, written
out here: that package imports boto3 at import time (about 30 ms of every cold start, for a
Lambda client this function is handed anyway).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.lazy_listener import LazyListenerRunner
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.util.utils import get_name_for_callable
from slack_sdk.signature import SignatureVerifier

logger = logging.getLogger(__name__)

# Bolt's own answer to a request that fails verification.
REFUSED: dict[str, Any] = {"statusCode": 401, "body": '{"error": "invalid request"}', "headers": {}}
UNREADABLE: dict[str, Any] = {"statusCode": 400, "body": '{"error": "bad request"}', "headers": {}}
# Bolt's adapter's answer to anything but a POST when the app has no OAuth flow (as Signoff's).
NOT_FOUND: dict[str, Any] = {"statusCode": 404, "body": "Not Found", "headers": {}}


class VerifiedRequestHandler:
    """Bolt's Lambda request handler, refusing unsigned requests before Bolt parses them.

    Bolt's adapter parses the body (JSON inside `payload=`) before its verification middleware
    runs, so an unsigned `payload=0` raised out of the function: a 502 and a traceback for every
    forged request. slack_sdk's verifier also raises, rather than refusing, on a timestamp that
    is not a number or a non-ASCII signature. Here the same verifier runs first, on inputs it can
    judge; Bolt still verifies again as usual. The body is parsed once, here, and the request
    handed to the app as Bolt's adapter would (parsing a card's URL-encoded blocks is a large
    share of each click's CPU time).
    """

    def __init__(self, app: App, signing_secret: str, lambda_client: Any) -> None:
        self.app = app
        self._verifier = SignatureVerifier(signing_secret)
        # Lazy listeners re-invoke this function with `lambda_client`, without Bolt's copy.
        app._listener_runner = SelfInvokingListenerRunner(app.listener_runner, lambda_client)

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not self._signed_by_slack(event):
            return dict(REFUSED)
        context_of_request = event.get("requestContext") or {}
        method = (context_of_request.get("http") or {}).get("method") or context_of_request.get(
            "httpMethod"
        )
        if method not in ("POST", "NONE"):  # NONE: Bolt's own lazy re-invocation
            return dict(NOT_FOUND)
        try:
            request = to_bolt_request(event)
        except (ValueError, AttributeError, TypeError):
            # Signed, so from Slack (or whoever holds the secret), yet not a shape Bolt reads.
            logger.warning("signed Slack request with an unreadable body; refused")
            return dict(UNREADABLE)
        if method == "POST":
            # What Bolt's adapter records; its lazy listener runner re-invokes with these.
            request.context["aws_lambda_function_name"] = context.function_name
            request.context["aws_lambda_invoked_function_arn"] = context.invoked_function_arn
            request.context["lambda_request"] = event
        return to_aws_response(self.app.dispatch(request))

    def _signed_by_slack(self, event: dict[str, Any]) -> bool:
        headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        timestamp = str(headers.get("x-slack-request-timestamp", ""))
        signature = str(headers.get("x-slack-signature", ""))
        if not (timestamp.isascii() and timestamp.isdigit() and signature.isascii()):
            return False
        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(body, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False  # Slack sends text; Bolt could not decode this either
        return self._verifier.is_valid(body=str(body), timestamp=timestamp, signature=signature)


def to_bolt_request(event: dict[str, Any]) -> BoltRequest:
    """The Function URL event (payload format 2.0) as Bolt's adapter reads it."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    headers = dict(event.get("headers") or {})
    headers["cookie"] = event.get("cookies") or []
    return BoltRequest(body=body, query=event.get("queryStringParameters") or {}, headers=headers)


def to_aws_response(response: BoltResponse) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "body": response.body,
        "headers": response.first_headers(),
    }


class SelfInvokingListenerRunner(ThreadListenerRunner):
    """Bolt's listener runner, starting each lazy listener as Bolt's Lambda adapter does.

    The same asynchronous self-invocation with the same event (the Function URL's, marked
    lazy-only for one listener), without what Bolt does first for any runner: re-parse the
    request's body and deep-copy the whole request, context and all. On Lambda the copy is
    thrown away unread, and it was a quarter of the acking invocation's CPU time. The
    re-invocation runs the lazy listener as Bolt's Lambda runner does.
    """

    def __init__(self, runner: ThreadListenerRunner, lambda_client: Any) -> None:
        super().__init__(
            logger=runner.logger,
            process_before_response=runner.process_before_response,
            listener_error_handler=runner.listener_error_handler,
            listener_start_handler=runner.listener_start_handler,
            listener_completion_handler=runner.listener_completion_handler,
            listener_executor=runner.listener_executor,
            lazy_listener_runner=SelfInvokingLazyRunner(runner.logger, lambda_client),
        )

    def _start_lazy_function(self, lazy_func: Callable[..., None], request: BoltRequest) -> None:
        # Bolt's own copies the request first; the invocation needs only the event in it.
        self.lazy_listener_runner.start(function=lazy_func, request=request)


class SelfInvokingLazyRunner(LazyListenerRunner):
    """Starts a lazy listener as one asynchronous invocation of this function with the same
    event; `run` (Bolt's own) runs it in that invocation."""

    def __init__(self, logger: logging.Logger, lambda_client: Any) -> None:
        self.logger = logger
        self._lambda = lambda_client

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        event: dict[str, Any] = request.context["lambda_request"]
        headers = dict(
            event.get("headers") or {},
            **{
                "x-slack-bolt-lazy-only": "1",
                "x-slack-bolt-lazy-function-name": get_name_for_callable(function),
            },
        )
        self._lambda.invoke(
            FunctionName=request.context["aws_lambda_invoked_function_arn"],
            InvocationType="Event",
            Payload=json.dumps(dict(event, headers=headers, method="NONE")),
        )
