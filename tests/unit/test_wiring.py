"""Wiring: building every service makes no AWS client; each is made on its first use, once."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from moto import mock_aws
from slack_sdk import WebClient

from bot.config import Settings
from bot.errors import ConfigError, ServiceError
from bot.gateways.session import LambdaSession
from bot.gateways.slack_client import web_client
from bot.wiring import build_services, services_from_env, slack_credentials

REGION = "us-east-1"


class CountingSession(boto3.Session):
    """A session that counts the clients and resources made from it."""

    def __init__(self) -> None:
        super().__init__(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        self.made: Counter[str] = Counter()

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        self.made[f"client:{service_name}"] += 1
        return super().client(service_name, *args, **kwargs)  # type: ignore[call-overload]

    def resource(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        self.made[f"resource:{service_name}"] += 1
        return super().resource(service_name, *args, **kwargs)  # type: ignore[call-overload]


TABLES = {
    "AWS_REGION": REGION,
    "SIGNOFF_APPROVALS_TABLE": "approvals",
    "SIGNOFF_IDENTITIES_TABLE": "identities",
    "SIGNOFF_AUDIT_TABLE": "audit",
    "SIGNOFF_IDEMPOTENCY_TABLE": "idempotency",
    "SIGNOFF_DEFAULT_CHANNEL": "C0APPROVALS",
}
# A deployed function's variables: the Slack tokens are in a secret, not in plain variables.
DEPLOYED = {
    **TABLES,
    "SLACK_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-AbCdEf",
}


def settings() -> Settings:
    return Settings.from_env(
        {
            **TABLES,
            "SLACK_BOT_TOKEN": "xoxb-fake-not-a-real-token",
            "SLACK_SIGNING_SECRET": "fake-signing-secret",
        }
    )


def test_building_the_services_makes_no_aws_client() -> None:
    session = CountingSession()

    build_services(settings(), session, WebClient(token="xoxb-fake-not-a-real-token"))

    assert session.made == Counter()


def test_a_client_is_made_on_first_use_and_then_reused() -> None:
    session = CountingSession()
    services = build_services(settings(), session, WebClient(token="xoxb-fake-not-a-real-token"))

    # Attribute reads reach the real client without calling AWS.
    assert services.store._table._client.meta.region_name == REGION
    assert services.audit._table._client.meta.region_name == REGION
    assert services.automation._ssm.meta.region_name == REGION
    assert services.automation._ssm.meta.region_name == REGION

    # One DynamoDB client for every table (no resource layer), one SSM client.
    assert session.made == Counter({"client:dynamodb": 1, "client:ssm": 1})


def test_the_slack_secret_is_read_on_first_need_not_at_cold_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A deployed function (the secret, no plain tokens) that never calls Slack reads no secret.
    for name, value in DEPLOYED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    session = CountingSession()

    services_from_env(session)

    assert session.made == Counter()


def test_a_token_given_as_a_function_is_asked_for_once_on_first_use() -> None:
    asked: list[str] = []

    def token() -> str:
        asked.append("token")
        return " xoxb-fake-not-a-real-token "

    client = web_client(token, "http://127.0.0.1:9/api/")

    assert asked == []
    assert client.token == "xoxb-fake-not-a-real-token"
    assert client.token == "xoxb-fake-not-a-real-token"
    assert asked == ["token"]


def test_a_function_that_calls_slack_can_read_the_secret_ahead_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="fake-slack",
            SecretString=json.dumps(
                {"bot_token": "xoxb-fake-not-a-real-token", "signing_secret": "fake-secret"}
            ),
        )["ARN"]
        for name, value in {**DEPLOYED, "SLACK_SECRET_ARN": arn}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
        monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
        session = CountingSession()

        services, credentials = services_from_env(session, prefetch_slack=True)

        # Read in the background, before anything asked for it.
        deadline = time.monotonic() + 10
        while session.made["client:secretsmanager"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert session.made == Counter({"client:secretsmanager": 1})
        assert credentials().bot_token == "xoxb-fake-not-a-real-token"
        assert services.slack._client.token == "xoxb-fake-not-a-real-token"
        assert session.made == Counter({"client:secretsmanager": 1})


@pytest.mark.parametrize(
    ("secret", "kind", "problem"),
    [
        (json.dumps({"bot_token": "xoxb-fake"}), ConfigError, "keys bot_token and signing"),
        ("not json", ConfigError, "must be JSON"),
        (None, ServiceError, "AWS refused to read the Slack secret .*ResourceNotFoundException"),
    ],
)
def test_a_slack_secret_that_cannot_be_used_says_which_and_why(
    secret: str | None, kind: type[Exception], problem: str
) -> None:
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = DEPLOYED["SLACK_SECRET_ARN"]
        if secret is not None:
            arn = secrets.create_secret(Name="fake-slack", SecretString=secret)["ARN"]
        deployed = Settings.from_env({**DEPLOYED, "SLACK_SECRET_ARN": arn})
        with pytest.raises(kind, match=problem) as refused:
            slack_credentials(deployed, LambdaSession(REGION))
        assert arn in str(refused.value)
