"""What TLS costs the functions' calls in CPU: the part the sandbox (plain HTTP) never shows.

Slack: calls to a local HTTPS server (tests/support/https_server.py) whose certificate comes from
a test CA appended to this machine's CA bundle, so the trust store is as large as a deployed
function's. Measured for slack_sdk's WebClient as it comes (no TLS context: urllib makes one per
connection and loads every CA certificate into it, and slack_sdk opens a connection per call)
and for Signoff's (one context per process, made on the first HTTPS call).

AWS: botocore gives each new connection the path of its CA bundle, and urllib3 loads the file
into the connection's context (boto/botocore#3171). Measured: one such load, and a new client's
first call (a new connection) to a local HTTPS endpoint, as botocore makes it and as Signoff's
clients make it (`share_tls` in bot/gateways/session.py: the bundle loaded once a process).

CPU time, not wall time: a 256 MB Lambda has a fraction of a core, so each CPU millisecond
here is several of a deployed function's.

    .venv/bin/python bench/tls.py
    .venv/bin/python bench/tls.py --calls 50
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import trustme
from _sandbox import REPO
from botocore.config import Config
from botocore.httpsession import create_urllib3_context, get_cert_path
from slack_sdk import WebClient

sys.path.insert(0, str(REPO))
from bot.gateways.session import LambdaSession
from bot.gateways.slack import web_client
from tests.support.https_server import CHANNEL, serve_https

TOKEN = "xoxb-test-not-a-real-token"  # noqa: S105 - fake, for a local server
REGION = "us-east-1"
ONCE = Config(retries={"mode": "standard", "max_attempts": 1})


def cpu_ms_each(call: Callable[[], object], times: int) -> float:
    call()  # the first (imports, the first context) is not what every call costs
    began = time.process_time()
    for _ in range(times):
        call()
    return (time.process_time() - began) * 1000 / times


def first_call(origin: str, bundle: str, share: bool) -> None:
    """A new client's first call: a new connection (the client made, too, in both cases)."""
    session = LambdaSession(REGION)
    # LambdaSession.client is botocore's create_client, and then share_tls.
    make = session.client if share else partial(session._core.create_client, region_name=REGION)
    client: Any = make("dynamodb", endpoint_url=origin, verify=bundle, config=ONCE)
    client.get_item(TableName="bench", Key={"pk": {"S": "x"}})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="calls measured per client (20)")
    args = parser.parse_args()
    # Obviously fake: the only endpoint called is the local server.
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[variable] = "testing"

    system = ssl.get_default_verify_paths().cafile
    if not system or not Path(system).is_file():
        raise SystemExit(f"no CA bundle at {system!r}: this bench compares against the system's")
    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "trusted.pem"
        bundle.write_bytes(Path(system).read_bytes() + ca.cert_pem.bytes())
        os.environ["SSL_CERT_FILE"] = str(bundle)
        certificates = ssl.create_default_context().cert_store_stats()["x509_ca"]
        with serve_https(ca) as slack:
            clients = {
                "slack_sdk's WebClient, no TLS context": WebClient(token=TOKEN, base_url=slack.url),
                "Signoff's (one TLS context a process)": web_client(TOKEN, slack.url, retries=0),
            }
            print(f"Slack: chat.postMessage to {slack.url}, trusting {certificates} certificates")
            for name, client in clients.items():
                each = cpu_ms_each(
                    partial(client.chat_postMessage, channel=CHANNEL, text="x"), args.calls
                )
                print(f"  {name:<40} {each:6.1f} ms CPU a call (the local server's included)")

    # botocore's bundle with the test CA appended: as large as a function's trust store.
    aws_bundle = Path(str(get_cert_path(True)))
    context = create_urllib3_context()
    load = cpu_ms_each(lambda: context.load_verify_locations(str(aws_bundle)), args.calls)
    print(f"AWS: DynamoDB GetItem, botocore's CA bundle ({aws_bundle.stat().st_size // 1024} KB)")
    print(f"  one load of the bundle into a connection's context  {load:6.1f} ms CPU")
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "aws.pem"
        bundle.write_bytes(aws_bundle.read_bytes() + ca.cert_pem.bytes())
        with serve_https(ca) as aws:
            for name, share in (
                ("botocore as it comes (a load a connection)", False),
                ("Signoff's clients (share_tls: one load)", True),
            ):
                each = cpu_ms_each(partial(first_call, aws.origin, str(bundle), share), args.calls)
                print(f"  {name:<48} {each:6.1f} ms CPU a new client's first call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
