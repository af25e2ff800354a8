"""boto3 clients for the engine's own AWS calls, served by moto in this process, never by AWS."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from moto.core.models import botocore_stubber


class NoLocalAws(RuntimeError):
    """Raised instead of letting an engine call leave the machine."""


def local_client(service: str, region: str, access_key_id: str) -> Any:
    """A client whose requests moto's in-process stubber answers.

    The stubber is on inside `mock_aws()` and inside the sandbox server (see server.py). The
    caller's access key is reused so moto attributes the call to the same account; moto does
    not verify signatures, so the secret is a placeholder.
    """
    if not botocore_stubber.enabled:
        raise NoLocalAws(
            "no local AWS in this process: run inside moto.mock_aws() or the sandbox server"
        )
    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key="sandbox-not-a-secret",
        region_name=region,
    )
    # AWS_ENDPOINT_URL would send the call over HTTP; the in-process route needs no server.
    config = Config(  # type: ignore[call-arg]  # the stubs predate this botocore option
        ignore_configured_endpoint_urls=True, retries={"max_attempts": 1}
    )
    return session.client(service, config=config)  # type: ignore[call-overload]
