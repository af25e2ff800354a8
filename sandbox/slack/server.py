"""Serve any WSGI app (the emulator, a test bot) on a threaded werkzeug server in the background.

Threaded because the emulator waits for the bot's ack while the bot calls the emulator's Web API:
a single-threaded server would deadlock on the first modal.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.serving import POLL_INTERVAL

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class QuietHandler(WSGIRequestHandler):
    """No access log: tests and benchmarks make thousands of requests."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class BackgroundServer:
    """`start()` binds (port 0 = a free port) and serves from a daemon thread; `stop()` joins it."""

    def __init__(
        self, app: WSGIApplication, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.quiet = quiet
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = make_server(
            self.host,
            self.port,
            self.app,
            threaded=True,
            request_handler=QuietHandler if self.quiet else None,
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(POLL_INTERVAL,),
            name=f"wsgi:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
