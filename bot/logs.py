"""Structured logs for handlers: one Powertools Logger whose format bot/ loggers share."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers


def handler_logger() -> Logger:
    """The Lambda's logger (service name and level from POWERTOOLS_* variables).

    bot/ logs through the standard library; copying the Powertools config onto those loggers
    makes every line JSON with the Lambda's request id and correlation id.
    """
    logger = Logger()
    copy_config_to_registered_loggers(source_logger=logger, include={"bot"})
    return logger
