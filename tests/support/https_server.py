"""A local HTTPS server, its certificate issued by a test CA, for the clients' real TLS.

Shared by the TLS tests and bench/tls.py. It answers every POST with the JSON Slack gives a
chat.postMessage; an AWS client reads only the members its model names, so a call to a JSON
protocol operation with no required output (DynamoDB's GetItem) succeeds on it too. The clients
trust the CA the way they trust any other (SSL_CERT_FILE, or botocore's `verify` path).
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme

CHANNEL = "C0APPROVALS"


@dataclass
class HttpsServer:
    origin: str  # https://127.0.0.1:<port>
    # The path of every request that reached the server.
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """As a Slack Web API base URL."""
        return f"{self.origin}/api/"


class _Server(ThreadingHTTPServer):
    served: HttpsServer


class _Answers(BaseHTTPRequestHandler):
    """Answers every Web API method as chat.postMessage would."""

    server: _Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.served.requests.append(self.path)
        body = json.dumps({"ok": True, "channel": CHANNEL, "ts": "1700000000.000100"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_https(issuer: trustme.CA, name: str = "127.0.0.1") -> Iterator[HttpsServer]:
    """A server on 127.0.0.1 with a certificate for `name` from `issuer`."""
    server = _Server(("127.0.0.1", 0), _Answers)
    served = server.served = HttpsServer(f"https://127.0.0.1:{server.server_address[1]}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    issuer.issue_cert(name).configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
