"""Lambda subscribed to the Automation* SNS topics: an approval notice becomes a Slack card."""

from __future__ import annotations

import gc

_collecting = gc.isenabled()
gc.disable()  # until the module is set up (handlers/__init__.py says why)

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bot.logs import handler_logger
from bot.wiring import Services, services_from_env

logger = handler_logger()


@cache
def services() -> Services:
    return services_from_env(prefetch_slack=True)[0]


# The SNS event is read as the dict it is: Powertools' data classes would import every event
# type it knows (about 15 ms of each cold start) to read three fields.
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    posted = 0
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        # Not SNS's shape: raising would only have Lambda retry the same event into the DLQ.
        logger.warning("event without a list of SNS records; ignored", extra={"event": event})
        return {"posted": 0}
    for record in records:
        sns = record.get("Sns") if isinstance(record, dict) else None
        if not isinstance(sns, dict) or not isinstance(sns.get("Message"), str):
            logger.warning("record without an SNS message; skipped", extra={"record": record})
            continue
        card = services().notices.handle(
            sns["Message"], str(sns.get("MessageId", "")), str(sns.get("TopicArn", ""))
        )
        posted += card is not None
    return {"posted": posted}


# Set up: what the imports made is frozen out of the collector's sight, which resumes.
gc.freeze()
if _collecting:
    gc.enable()
