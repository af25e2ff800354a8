"""Bolt's own Lambda adapter behind a Function URL, with Slack's signature checked first.

`slack_bolt.adapter.aws_lambda.SlackRequestHandler` does the work (Function URL event to
BoltRequest, lazy listeners as asynchronous self-invocations, the response). This wrapper only
refuses, before Bolt parses the body, what Slack did not sign.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.aws_lambda import SlackRequestHandler
from slack_bolt.adapter.aws_lambda.lazy_listener_runner import LambdaLazyListenerRunner
from slack_sdk.signature import SignatureVerifier

logger = logging.getLogger(__name__)

# Bolt's own answer to a request that fails verification.
REFUSED: dict[str, Any] = {"statusCode": 401, "body": '{"error": "invalid request"}', "headers": {}}
UNREADABLE: dict[str, Any] = {"statusCode": 400, "body": '{"error": "bad request"}', "headers": {}}


class VerifiedRequestHandler:
    """Bolt's SlackRequestHandler, refusing unsigned requests before Bolt parses them.

    Bolt's adapter parses the body (JSON inside `payload=`) before its verification middleware
    runs, so an unsigned `payload=0` raised out of the function: a 502 and a traceback for every
    forged request. slack_sdk's verifier also raises, rather than refusing, on a timestamp that
    is not a number or a non-ASCII signature. Here the same verifier runs first, on inputs it can
    judge; then Bolt's handler runs as shipped (and verifies again).

    `lambda_client`: the client Bolt's lazy listener runner self-invokes with, given through its
    documented `lambda_client` parameter (without it, the runner makes its own with boto3's
    default session on the first lazy listener).
    """

    def __init__(self, app: App, signing_secret: str, lambda_client: Any = None) -> None:
        self.bolt = SlackRequestHandler(app)
        if lambda_client is not None:
            # The runner Bolt's adapter has just installed, made again with the client.
            app.listener_runner.lazy_listener_runner = LambdaLazyListenerRunner(
                self.bolt.logger, lambda_client=lambda_client
            )
        self._verifier = SignatureVerifier(signing_secret)

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = self._signed_body(event)
        if body is None:
            return dict(REFUSED)
        if not _readable_by_bolt(body, event):
            # Signed (from Slack, or whoever holds the secret) yet not a shape Bolt reads.
            logger.warning("signed Slack request with an unreadable body; refused")
            return dict(UNREADABLE)
        # Whatever fails from here is Signoff's or Bolt's own failure, not the request's: it is
        # raised (a 502 and a traceback in the log), never answered as a bad request.
        response: dict[str, Any] = self.bolt.handle(event, context)  # type: ignore[no-untyped-call]  # Bolt's adapter is unannotated
        return response

    def _signed_body(self, event: dict[str, Any]) -> str | None:
        """The request's body as text when Slack signed it, else None."""
        headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        timestamp = str(headers.get("x-slack-request-timestamp", ""))
        signature = str(headers.get("x-slack-signature", ""))
        if not (timestamp.isascii() and timestamp.isdigit() and signature.isascii()):
            return None
        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(body, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None  # Slack sends text; Bolt could not decode this either
        valid = self._verifier.is_valid(body=str(body), timestamp=timestamp, signature=signature)
        return str(body) if valid else None


def _readable_by_bolt(body: str, event: dict[str, Any]) -> bool:
    """Whether Bolt can read `body`: a BoltRequest parses it (JSON inside `payload=`) and reads
    its workspace and user, as Bolt's adapter does before anything else."""
    try:
        BoltRequest(body=body, headers=dict(event.get("headers") or {}))
    except (ValueError, AttributeError, TypeError, KeyError):
        return False
    return True
