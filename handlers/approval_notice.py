"""Lambda subscribed to the Automation* SNS topics: an approval notice becomes a Slack card."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from bot.logs import handler_logger
from bot.wiring import Services, services_from_env

logger = handler_logger()


@cache
def services() -> Services:
    return services_from_env()[0]


@logger.inject_lambda_context
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, int]:
    posted = 0
    for record in event.records:
        sns = record.sns
        card = services().notices.handle(sns.message, sns.message_id, sns.topic_arn)
        posted += card is not None
    return {"posted": posted}
