"""Slack requests as Slack signs them, and the Function URL events Lambda wraps them in.

Shared by the hardening tests and the benchmarks: one way to build a signed click, one way to
hand `handlers.slack_events.lambda_handler` the event a Function URL would.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from slack_sdk.signature import SignatureVerifier

FUNCTION_NAME = "signoff-slack-events"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"


def signed_headers(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request (platform-facts C.1), for `body` as sent."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": str(signature),
    }


def payload_body(payload: Any) -> str:
    """An interactive payload as Slack posts it: one form field, `payload=<url-encoded JSON>`."""
    return "payload=" + quote(json.dumps(payload))


def signed_request(
    payload: Any, secret: str, timestamp: int | None = None
) -> tuple[str, dict[str, str]]:
    """(body, headers) of a signed interactive request carrying `payload`."""
    body = payload_body(payload)
    return body, signed_headers(body, secret, timestamp)


def function_url_event(
    body: str | bytes, headers: dict[str, str], method: str = "POST", path: str = "/slack/events"
) -> dict[str, Any]:
    """The payload-2.0 event a Lambda Function URL builds from one HTTP request."""
    if isinstance(body, bytes):
        try:
            text, is_base64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode("ascii"), True
    else:
        text, is_base64 = body, False
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "Slackbot 1.0",
            },
            "requestId": str(uuid.uuid4()),
            "timeEpoch": int(now * 1000),
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


@dataclass
class LambdaContext:
    """The context attributes Bolt's adapter and Powertools read."""

    function_name: str = FUNCTION_NAME
    invoked_function_arn: str = FUNCTION_ARN
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = f"/aws/lambda/{FUNCTION_NAME}"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def block_actions(
    user: str, action_id: str, value: str, *, channel: str = "C0APPROVALS", ts: str = "1.000001"
) -> dict[str, Any]:
    """A button click on a message, with the fields Bolt and the listeners read."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0SIGNOFF"},
        "api_app_id": "A0SIGNOFF",
        "team": {"id": "T0SIGNOFF", "domain": "signoff-sandbox"},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "channel": {"id": channel, "name": "approvals"},
        "message": {"ts": ts, "type": "message", "blocks": []},
        "trigger_id": f"{int(time.time())}.1.{uuid.uuid4().hex}",
        "response_url": "http://127.0.0.1:9/_emulator/respond/none",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "card",
                "type": "button",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
