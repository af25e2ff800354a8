"""Lambda the access-key runbook calls after approval: a key into a secret, a report without it."""

from __future__ import annotations

import gc

_collecting = gc.isenabled()
gc.disable()  # until the module is set up (handlers/__init__.py says why)

import logging
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from bot.access_key_models import IssueKeyPayload
from bot.config import Settings
from bot.gateways.session import LambdaSession
from bot.logs import handler_logger
from bot.wiring import AWS_CONFIG, build_key_issuer

logger = handler_logger()
# botocore logs request and response bodies at DEBUG; here those bodies carry the secret key.
logging.getLogger("botocore").setLevel(logging.INFO)
# One key per execution however often SSM or Lambda retries; a week outlasts any retry.
idempotency = IdempotencyConfig(event_key_jmespath="execution_id", expires_after_seconds=604800)


@cache
def issue() -> Callable[..., dict[str, str]]:
    settings = Settings.from_env()
    session = LambdaSession(settings.region)
    dynamodb = session.client("dynamodb", config=AWS_CONFIG)
    records = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=dynamodb)
    issuer = build_key_issuer(settings, session, dynamodb=dynamodb)
    wrapped: Callable[..., dict[str, str]] = idempotent_function(
        issuer.issue, data_keyword_argument="request", config=idempotency, persistence_store=records
    )
    return wrapped


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    idempotency.register_lambda_context(context)
    return issue()(request=IssueKeyPayload.from_event(event))


# Set up: what the imports made is frozen out of the collector's sight, which resumes.
gc.freeze()
if _collecting:
    gc.enable()
