"""A TLS-terminating forwarder in front of the sandbox's plain-HTTP AWS and Slack endpoints.

Real Slack and AWS are HTTPS: each new connection a function opens costs it a TLS handshake and
the load of its CA bundle, CPU that a plain-HTTP sandbox never shows. This proxy serves a
certificate from a test CA (trustme) on loopback and copies bytes to and from the sandbox; the
bundle it writes (this machine's CA certificates plus the test CA, as large as a function's trust
store) is what the functions are told to trust.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass
class Proxied:
    """The HTTPS origin in front of each upstream origin, and the CA bundle that trusts them."""

    origins: dict[str, str]
    ca_bundle: str
    connections: dict[str, int]  # TLS connections accepted, by upstream origin

    def url(self, upstream_url: str) -> str:
        """`upstream_url` (http://host:port/path) as served through the proxy."""
        parts = urllib.parse.urlsplit(upstream_url)
        origin = self.origins[f"{parts.scheme}://{parts.netloc}"]
        return origin + parts.path


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def _forwarder(host: str, port: int, counts: dict[str, int], origin: str):  # type: ignore[no-untyped-def]
    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts[origin] = counts.get(origin, 0) + 1
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return forward


@contextmanager
def tls_proxy(upstreams: list[str], workdir: Path) -> Iterator[Proxied]:
    """Serve each `http://host:port` upstream over HTTPS on a free loopback port until exit."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    system = ssl.get_default_verify_paths().cafile
    bundle = workdir / "ca-bundle.pem"
    system_pem = Path(system).read_bytes() if system and Path(system).is_file() else b""
    bundle.write_bytes(system_pem + ca.cert_pem.bytes())

    loop = asyncio.new_event_loop()
    origins: dict[str, str] = {}
    counts: dict[str, int] = {}
    servers: list[asyncio.Server] = []

    async def start() -> None:
        for upstream in upstreams:
            parts = urllib.parse.urlsplit(upstream)
            origin = f"{parts.scheme}://{parts.netloc}"
            server = await asyncio.start_server(
                _forwarder(parts.hostname or "127.0.0.1", parts.port or 80, counts, origin),
                "127.0.0.1",
                0,
                ssl=server_context,
            )
            servers.append(server)
            port = server.sockets[0].getsockname()[1]
            origins[origin] = f"https://127.0.0.1:{port}"

    thread = threading.Thread(target=loop.run_forever, name="tls-proxy", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield Proxied(origins, str(bundle), counts)
    finally:

        async def stop() -> None:
            for server in servers:
                server.close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
