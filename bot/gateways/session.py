"""The AWS session the Lambda functions use: botocore alone, models trimmed to Signoff's calls.

Making a client makes botocore read the service's whole API model and the endpoints of every
AWS service (several MB of JSON per cold start). bot/aws_models/ holds the same files cut down to
the operations bot/ and handlers/ call (`make aws-models` writes it, a test keeps it complete),
and this session reads only from there. It is botocore's session, not boto3's: importing boto3
costs a cold start about 30 ms (its resource factory and s3transfer) for nothing the functions
use. The CLI and the sandbox keep boto3 and the full models; both kinds of session make clients
through `client(service, **options)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import botocore.session
from botocore.loaders import Loader

MODELS = Path(__file__).resolve().parent.parent / "aws_models"


class ClientSource(Protocol):
    """What the services get their AWS clients from: a LambdaSession, or a boto3.Session."""

    def client(self, service_name: str, **options: Any) -> Any:
        """A low-level client; options as boto3.Session.client takes them (config, credentials,
        region_name, endpoint_url)."""


class LambdaSession:
    """Clients made by a botocore session that loads bot/aws_models/ only."""

    def __init__(self, region: str | None) -> None:
        self._core = botocore.session.get_session()
        self._core.register_component(
            "data_loader",
            Loader(extra_search_paths=[str(MODELS)], include_default_search_paths=False),
        )
        self._region = region

    def client(self, service_name: str, **options: Any) -> Any:
        """As boto3.Session.client: the session's region unless `region_name` says otherwise."""
        if options.get("region_name") is None:
            options["region_name"] = self._region
        return self._core.create_client(service_name, **options)
