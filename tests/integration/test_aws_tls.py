"""The functions' AWS clients over real TLS: the CA bundle loaded once a process, checks kept.

A local HTTPS server (tests/support/https_server.py) stands in for an AWS endpoint, its
certificate issued by a throwaway test CA; the clients are given that CA's bundle as `verify`,
as botocore takes AWS_CA_BUNDLE. DynamoDB's GetItem is the call: it needs no output.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError, SSLError

from bot.gateways import session as session_module
from bot.gateways.session import LambdaSession
from tests.support.https_server import HttpsServer, serve_https

REGION = "us-east-1"
# One attempt: a refused certificate is what is asserted, not botocore's retries of it.
ONCE = Config(retries={"mode": "standard", "max_attempts": 1})


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def bundle(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "aws-ca-bundle.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every CA bundle loaded into a TLS context, from a process that has loaded none yet."""
    loaded: list[Any] = []
    real = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loaded.append(kwargs.get("cafile") or args[0])
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    monkeypatch.setattr(session_module, "_TRUSTING", {})
    return loaded


@pytest.fixture
def aws(ca: trustme.CA) -> Iterator[HttpsServer]:
    with serve_https(ca) as server:
        yield server


def get_item(client: Any) -> dict[str, Any]:
    answer: dict[str, Any] = client.get_item(TableName="signoff-test", Key={"pk": {"S": "x"}})
    return answer


def test_new_connections_share_one_load_of_the_ca_bundle(
    aws: HttpsServer, bundle: str, loads: list[Any]
) -> None:
    session = LambdaSession(REGION)
    # A client each: each call opens a connection of its own, as a cold start's clients do.
    clients = [
        session.client("dynamodb", endpoint_url=aws.origin, verify=bundle, config=ONCE)
        for _ in range(4)
    ]

    for client in clients:
        assert get_item(client)["ResponseMetadata"]["HTTPStatusCode"] == 200

    assert len(aws.requests) == 4
    assert loads == [bundle], "loaded once, not once a connection"


def test_a_certificate_from_an_untrusted_issuer_is_still_refused(
    bundle: str, loads: list[Any]
) -> None:
    with serve_https(trustme.CA()) as impostor:
        client = LambdaSession(REGION).client(
            "dynamodb", endpoint_url=impostor.origin, verify=bundle, config=ONCE
        )
        with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            get_item(client)

    assert impostor.requests == []


def test_a_certificate_for_another_host_name_is_still_refused(
    ca: trustme.CA, bundle: str, loads: list[Any]
) -> None:
    with serve_https(ca, name="dynamodb.us-east-1.amazonaws.com") as elsewhere:
        client = LambdaSession(REGION).client(
            "dynamodb", endpoint_url=elsewhere.origin, verify=bundle, config=ONCE
        )
        with pytest.raises(SSLError, match="doesn't match"):
            get_item(client)

    assert elsewhere.requests == []


def test_a_proxy_s_connections_load_the_bundle_as_botocore_has_them() -> None:
    proxy_url = "http://127.0.0.1:9"
    client = LambdaSession(REGION).client(
        "dynamodb",
        endpoint_url="https://dynamodb.example",
        config=Config(proxies={"https": proxy_url}),
    )
    http = client._endpoint.http_session
    # A proxy has a manager (and a TLS context) of its own, which share_tls leaves alone.
    pool = http._get_connection_manager("https://dynamodb.example/", proxy_url).connection_from_url(
        "https://dynamodb.example/"
    )

    http._setup_ssl_cert(pool, "https://dynamodb.example/", http._verify)

    assert pool.ca_certs is not None


def test_a_client_without_verification_is_left_as_botocore_made_it() -> None:
    client = LambdaSession(REGION).client(
        "dynamodb", endpoint_url="https://dynamodb.example", verify=False
    )
    http = client._endpoint.http_session

    shared = [trust.context for trust in session_module._TRUSTING.values()]
    assert http._manager.connection_pool_kw["ssl_context"] not in shared
    assert "_setup_ssl_cert" not in vars(http)


def test_a_client_with_a_certificate_of_its_own_keeps_its_own_context(
    ca: trustme.CA, tmp_path: Path
) -> None:
    # urllib3 loads a client certificate into the connection's context: sharing it would lend
    # the certificate to every other client.
    certificate = tmp_path / "client.pem"
    ca.issue_cert("signoff-client.example").private_key_and_cert_chain_pem.write_to_path(
        str(certificate)
    )
    client = LambdaSession(REGION).client(
        "dynamodb",
        endpoint_url="https://dynamodb.example",
        config=Config(client_cert=str(certificate)),
    )
    http = client._endpoint.http_session

    shared = [trust.context for trust in session_module._TRUSTING.values()]
    assert http._manager.connection_pool_kw["ssl_context"] not in shared
    assert "_setup_ssl_cert" not in vars(http)


def test_a_plain_http_endpoint_loads_no_bundle(bundle: str, loads: list[Any]) -> None:
    # The sandbox's endpoints: nothing listens here, and the attempt needs no CA bundle.
    client = LambdaSession(REGION).client(
        "dynamodb", endpoint_url="http://127.0.0.1:1", verify=bundle, config=ONCE
    )

    with pytest.raises(EndpointConnectionError):
        get_item(client)

    assert loads == []
