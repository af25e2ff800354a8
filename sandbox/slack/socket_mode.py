"""Slack's Socket Mode, server side: the app dials in over a WebSocket, Slack sends it envelopes.

The protocol, as Slack documents it (api.slack.com/apis/socket-mode) and slack_sdk's clients
speak it:

- the app calls `apps.connections.open` with its app-level token (`xapp-…`) and gets a one-use
  `wss://…/link/?ticket=…` URL;
- on connecting it receives `{"type": "hello", "num_connections": n, "connection_info": …}`;
- each event is an envelope `{"envelope_id", "type": "slash_commands" | "interactive" |
  "events_api", "payload", "accepts_response_payload", "retry_attempt", "retry_reason"}`;
- the app acknowledges with `{"envelope_id": …}`, plus `"payload"` for what an HTTP app would
  have put in its 200 response body (a slash command's reply, a view_submission's
  response_action); Slack waits for that ack as long as for an HTTP response (3 seconds).

Here the URL is ws:// on loopback. While at least one app connection is open the emulator sends
people's commands and clicks down the newest one instead of POSTing them to the Request URL.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from sandbox.slack.outbound import BotReply

logger = logging.getLogger(__name__)

# Types of envelope (Slack's names) by what the emulator forwards.
SLASH_COMMANDS = "slash_commands"
INTERACTIVE = "interactive"


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.payload: Any = None


class SocketModeHub:
    """The WebSocket end of Socket Mode: tickets, connections, envelopes and their acks."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self._connections: list[ServerConnection] = []
        self._pending: dict[str, _Pending] = {}
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # -- running -----------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._server is not None:
            return
        self._server = serve(self._serve_connection, host, port)
        self.host, self.port = self._server.socket.getsockname()[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"socket-mode:{self.port}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close()
        server.shutdown()
        if thread is not None:
            thread.join(timeout=5)

    # -- apps.connections.open ---------------------------------------------------------------

    def open_url(self) -> str:
        """A one-use WebSocket URL, as `apps.connections.open` hands out."""
        if self._server is None:
            raise RuntimeError("Socket Mode is not running")
        ticket = secrets.token_hex(16)
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://{self.host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def connected(self) -> int:
        with self._lock:
            return len(self._connections)

    def _serve_connection(self, connection: ServerConnection) -> None:
        ticket = _ticket(connection.request.path if connection.request else "")
        with self._lock:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
        if not known:
            # Slack closes a connection whose ticket it did not issue, or issued before.
            connection.close(code=1008, reason="invalid ticket")
            return
        with self._lock:
            self._connections.append(connection)
            count = len(self._connections)
        try:
            connection.send(
                json.dumps(
                    {
                        "type": "hello",
                        "num_connections": count,
                        "debug_info": {"host": "signoff-emulator"},
                        "connection_info": {"app_id": self.app_id},
                    }
                )
            )
            for message in connection:
                self._on_message(message)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._connections.remove(connection)

    def _on_message(self, message: str | bytes) -> None:
        try:
            ack = json.loads(message)
        except ValueError:
            logger.warning("Socket Mode: ignored a message that is not JSON")
            return
        envelope_id = ack.get("envelope_id") if isinstance(ack, dict) else None
        with self._lock:
            pending = self._pending.get(str(envelope_id))
        if pending is None:
            return  # an ack for nothing sent, or sent too late: Slack drops it too
        pending.payload = ack.get("payload")
        pending.done.set()

    # -- envelopes ---------------------------------------------------------------------------

    def send(self, kind: str, payload: dict[str, Any], timeout: float) -> BotReply:
        """Send one envelope down the newest connection; wait for its ack like for a 200."""
        envelope_id = secrets.token_hex(16)
        pending = _Pending()
        with self._lock:
            if not self._connections:
                return BotReply(None, None, 0.0, error="dispatch_failed: no Socket Mode app")
            connection = self._connections[-1]
            self._pending[envelope_id] = pending
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": True,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        started = time.perf_counter()
        try:
            connection.send(json.dumps(envelope))
            acked = pending.done.wait(timeout)
        except ConnectionClosed as exc:
            return BotReply(None, None, _ms(started), error=f"dispatch_failed: {exc}")
        finally:
            with self._lock:
                self._pending.pop(envelope_id, None)
        if not acked:
            return BotReply(None, None, _ms(started), error="operation_timeout")
        return BotReply(200, pending.payload, _ms(started))


def _ticket(path: str) -> str:
    _, _, query = path.partition("?")
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "ticket":
            return value
    return ""


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
