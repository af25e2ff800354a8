"""Signoff's Slack clients over real TLS: one context for the process, certificates still checked.

A local HTTPS server stands in for slack.com (tests/support/https_server.py), its certificate
issued by a throwaway test CA that the clients trust through SSL_CERT_FILE.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.error import URLError

import pytest
import trustme
from slack_bolt import Ack, App, BoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot.concurrency import Once
from bot.gateways import slack_client
from bot.gateways.slack_client import tls_context, web_client
from tests.support.https_server import CHANNEL, HttpsServer, serve_https
from tests.support.signed import block_actions, signed_request

TOKEN = "xoxb-test-not-a-real-token"
SIGNING_SECRET = "test-signing-secret-not-real"


@pytest.fixture
def trusted_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A CA this process trusts (and only it: no system certificate directory either)."""
    ca = trustme.CA()
    bundle = tmp_path / "trusted-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-directory"))
    return ca


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[ssl.SSLContext]:
    """Every TLS context the Slack clients make, from a process that has made none yet."""
    contexts: list[ssl.SSLContext] = []
    real: Callable[[], ssl.SSLContext] = slack_client._new_tls_context

    def counted() -> ssl.SSLContext:
        contexts.append(real())
        return contexts[-1]

    monkeypatch.setattr(slack_client, "_SHARED_TLS", Once(counted))
    return contexts


@pytest.fixture
def slack(trusted_ca: trustme.CA) -> Iterator[HttpsServer]:
    with serve_https(trusted_ca) as server:
        yield server


def test_every_https_call_to_slack_goes_through_one_tls_context(
    slack: HttpsServer, made: list[ssl.SSLContext]
) -> None:
    first = web_client(TOKEN, slack.url, retries=0)
    on_first_need = web_client(lambda: TOKEN, slack.url, retries=0)

    for client in (first, first, on_first_need, first):
        assert client.chat_postMessage(channel=CHANNEL, text="Approval needed")["ok"] is True

    assert len(slack.requests) == 4, "each call its own connection, as slack_sdk makes them"
    assert len(made) == 1, "one context (and one load of the CA certificates) for the process"
    assert first.ssl is made[0] and on_first_need.ssl is made[0]


def test_the_shared_context_checks_certificates_and_host_names(
    slack: HttpsServer, made: list[ssl.SSLContext]
) -> None:
    context = web_client(TOKEN, slack.url).ssl

    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True


def _authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> Any:
    return AuthorizeResult(
        enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=TOKEN
    )


def bolt_app(slack: HttpsServer) -> App:
    """As bot/app.py builds it: Bolt makes a client per request from this one's settings."""
    return App(
        name="tls-test",
        client=WebClient(base_url=slack.url, ssl=tls_context(slack.url)),
        authorize=_authorize,
        signing_secret=SIGNING_SECRET,
        process_before_response=True,  # as on Lambda: the listener has run when dispatch returns
    )


def test_bolt_gives_each_request_s_client_the_shared_context(
    slack: HttpsServer, made: list[ssl.SSLContext]
) -> None:
    app = bolt_app(slack)

    @app.action("approve")
    def on_click(ack: Ack, client: WebClient) -> None:
        ack()
        client.chat_postMessage(channel=CHANNEL, text="clicked")

    for _ in range(2):
        body, headers = signed_request(block_actions("U0ALICE", "approve", "x"), SIGNING_SECRET)
        assert app.dispatch(BoltRequest(body=body, headers=headers)).status == 200

    assert slack.requests.count("/api/chat.postMessage") == 2
    assert len(made) == 1


def test_a_lazy_listener_runs_over_https_with_the_shared_context(
    slack: HttpsServer, made: list[ssl.SSLContext]
) -> None:
    # Bolt deep-copies the request's context, its client and the client's `ssl` included,
    # before it starts a lazy listener: an SSLContext that cannot be copied failed every click.
    app = bolt_app(slack)
    done = threading.Event()

    def acknowledge(ack: Ack) -> None:
        ack()

    def later(client: WebClient) -> None:
        client.chat_postMessage(channel=CHANNEL, text="decided")
        done.set()

    app.action("approve")(ack=acknowledge, lazy=[later])

    body, headers = signed_request(block_actions("U0ALICE", "approve", "x"), SIGNING_SECRET)
    assert app.dispatch(BoltRequest(body=body, headers=headers)).status == 200

    assert done.wait(timeout=30), "the lazy listener never posted"
    assert slack.requests.count("/api/chat.postMessage") == 1
    assert len(made) == 1


def test_a_certificate_from_an_untrusted_issuer_is_refused(
    trusted_ca: trustme.CA, made: list[ssl.SSLContext]
) -> None:
    with serve_https(trustme.CA()) as impostor, pytest.raises(URLError) as refused:
        web_client(TOKEN, impostor.url, retries=0).chat_postMessage(
            channel=CHANNEL, text="Approval needed"
        )

    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    assert impostor.requests == [], "nothing was sent to a server the client could not verify"


def test_a_plain_http_client_makes_no_tls_context(made: list[ssl.SSLContext]) -> None:
    client = web_client(TOKEN, "http://127.0.0.1:3100/api/")

    assert client.ssl is None
    assert tls_context("http://127.0.0.1:3100/api/") is None
    assert made == []
