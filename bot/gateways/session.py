"""The AWS session the Lambda functions make their clients with: botocore's, as shipped.

It is botocore's session, not boto3's: importing boto3 costs a cold start its resource factory
and s3transfer for nothing these functions use (docs/decisions/0006-botocore-session.md). The
CLI and the sandbox keep boto3; both kinds of session make clients through `client(service,
**options)`.

Where botocore reads its service models is botocore's documented `AWS_DATA_PATH`: the deployed
functions point it at the models `make package` trims to Signoff's calls
(docs/decisions/0015-trimmed-aws-models.md); without it, botocore's own models are read.
"""

from __future__ import annotations

from typing import Any, Protocol

import botocore.session


class ClientSource(Protocol):
    """What the services get their AWS clients from: a LambdaSession, or a boto3.Session."""

    def client(self, service_name: str, **options: Any) -> Any:
        """A low-level client; options as boto3.Session.client takes them (config, credentials,
        region_name, endpoint_url)."""


class LambdaSession:
    """Clients made by one botocore session (models, credentials and hooks loaded once)."""

    def __init__(self, region: str | None) -> None:
        self.botocore = botocore.session.get_session()
        self.region = region

    def client(self, service_name: str, **options: Any) -> Any:
        """As boto3.Session.client: the session's region unless `region_name` says otherwise."""
        if options.get("region_name") is None:
            options["region_name"] = self.region
        return self.botocore.create_client(service_name, **options)
