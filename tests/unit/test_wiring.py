"""Wiring: building every service makes no AWS client; each is made on its first use, once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
from slack_sdk import WebClient

from bot.config import Settings
from bot.wiring import build_services

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


def settings() -> Settings:
    return Settings.from_env(
        {
            "AWS_REGION": REGION,
            "SIGNOFF_APPROVALS_TABLE": "approvals",
            "SIGNOFF_IDENTITIES_TABLE": "identities",
            "SIGNOFF_AUDIT_TABLE": "audit",
            "SIGNOFF_IDEMPOTENCY_TABLE": "idempotency",
            "SIGNOFF_DEFAULT_CHANNEL": "C0APPROVALS",
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
