"""A local HTTPS server that answers Slack's Web API, its certificate issued by a test CA.

Shared by the TLS tests and bench/tls.py: the clients trust the CA the way they trust any other
(SSL_CERT_FILE), so the TLS they run is the one they would run against slack.com.
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
class HttpsSlack:
    url: str
    # The path of every request that reached the server.
    requests: list[str] = field(default_factory=list)


class _Answers(BaseHTTPRequestHandler):
    """Answers every Web API method as chat.postMessage would."""

    served: HttpsSlack

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.served.requests.append(self.path)
        body = json.dumps({"ok": True, "channel": CHANNEL, "ts": "1700000000.000100"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_https(issuer: trustme.CA) -> Iterator[HttpsSlack]:
    """A server on 127.0.0.1 with a certificate for that address from `issuer`; its Web API
    base URL is `.url`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    served = HttpsSlack(f"https://127.0.0.1:{server.server_address[1]}/api/")
    server.RequestHandlerClass = type("Answers", (_Answers,), {"served": served})
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    issuer.issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
