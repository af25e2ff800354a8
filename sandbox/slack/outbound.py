"""Requests to the bot, signed the way Slack signs them, with Slack's 3-second ack deadline."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slack_sdk.signature import SignatureVerifier

if TYPE_CHECKING:
    from sandbox.slack.socket_mode import SocketModeHub

ACK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class BotReply:
    """What the bot answered, or why it did not (`error` is Slack's word for it)."""

    status: int | None
    body: Any
    elapsed_ms: float
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "body": self.body,
            "elapsed_ms": round(self.elapsed_ms, 2),
            "error": self.error,
        }


def parse_body(raw: bytes, content_type: str) -> Any:
    """An ack body as the emulator understands it: JSON when it is JSON, else text, else None."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type or text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


class BotEndpoint:
    """The app's Request URL; signs with slack_sdk's own verifier, so both sides agree by design.

    With a Socket Mode app connected (`socket`), requests go down its WebSocket instead, as
    Slack does for an app with Socket Mode on: same payloads, same ack deadline.
    """

    def __init__(
        self,
        url: str | None,
        signing_secret: str,
        timeout: float = ACK_TIMEOUT_SECONDS,
        socket: SocketModeHub | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.socket = socket
        self._verifier = SignatureVerifier(signing_secret)

    def signed_headers(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._verifier.generate_signature(timestamp=ts, body=body)
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or "",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }

    def post_payload(self, payload: dict[str, Any]) -> BotReply:
        """Interactive payloads travel as one form field, `payload=<json>`, like Slack's."""
        if self.socket is not None and self.socket.connected:
            return self.socket.send("interactive", payload, self.timeout)
        return self.post_form({"payload": json.dumps(payload)})

    def post_event(self, envelope: dict[str, Any]) -> BotReply:
        """An Events API envelope: a JSON body, as Slack POSTs events (over Socket Mode, an
        `events_api` envelope's payload)."""
        if self.socket is not None and self.socket.connected:
            return self.socket.send("events_api", envelope, self.timeout)
        return self._post(json.dumps(envelope), "application/json")

    def post_form(self, fields: dict[str, str]) -> BotReply:
        """A slash command's form (or an interactive payload in its `payload` field)."""
        if self.socket is not None and self.socket.connected and "payload" not in fields:
            # Over Socket Mode a slash command's form arrives as the envelope's payload object.
            return self.socket.send("slash_commands", fields, self.timeout)
        return self._post(urllib.parse.urlencode(fields), "application/x-www-form-urlencoded")

    def _post(self, body: str, content_type: str) -> BotReply:
        # http.client, not urllib: no proxy from the environment gets between the emulator and
        # a bot on loopback, and a click costs the emulator less CPU time.
        if not self.url:
            return BotReply(None, None, 0.0, error="dispatch_failed: no bot_url configured")
        target = urllib.parse.urlsplit(self.url)
        if target.scheme not in ("http", "https") or not target.hostname:
            return BotReply(None, None, 0.0, error=f"dispatch_failed: bad bot_url {self.url}")
        connection_class = (
            http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(target.hostname, target.port, timeout=self.timeout)
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        started = time.perf_counter()
        try:
            headers = {**self.signed_headers(body), "Content-Type": content_type}
            connection.request("POST", path, body.encode(), headers)
            response = connection.getresponse()
            raw = response.read()
            status = response.status
            headers = dict(response.getheaders())
        except TimeoutError:
            return BotReply(None, None, _ms(started), error="operation_timeout")
        except (OSError, http.client.HTTPException) as exc:
            return BotReply(None, None, _ms(started), error=f"dispatch_failed: {exc}")
        finally:
            connection.close()
        content_type = str(headers.get("Content-Type", headers.get("content-type", "")))
        reply_error = None if status == 200 else "dispatch_failed"
        return BotReply(status, parse_body(raw, content_type), _ms(started), reply_error, headers)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
