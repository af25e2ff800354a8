"""The boto3 session the Lambda functions use: AWS models trimmed to the calls Signoff makes.

Making a client makes botocore read the service's whole API model and the endpoints of every
AWS service (several MB of JSON per cold start). bot/aws_models/ holds the same files cut down to
the operations bot/ and handlers/ call (`make aws-models` writes it, a test keeps it complete),
and this session reads only from there. The CLI and the sandbox keep the full models.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import botocore.session
from botocore.loaders import Loader

MODELS = Path(__file__).resolve().parent.parent / "aws_models"


def lambda_session(region: str | None) -> boto3.Session:
    """A session whose clients load bot/aws_models/ (and boto3's resource models) only."""
    core = botocore.session.get_session()
    core.register_component(
        "data_loader",
        Loader(extra_search_paths=[str(MODELS)], include_default_search_paths=False),
    )
    return boto3.Session(botocore_session=core, region_name=region)
