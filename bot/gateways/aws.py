"""What every AWS gateway shares: reading a ClientError and turning it into a domain error."""

from __future__ import annotations

from botocore.exceptions import ClientError

from bot.errors import ServiceError, TransientError

# Codes a later attempt may get past (botocore has already retried them a few times).
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TransactionConflictException",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def wrap_client_error(exc: ClientError, doing: str) -> ServiceError:
    """A domain error that says what the bot was doing; transient codes are marked as such."""
    code = error_code(exc)
    if code in TRANSIENT_CODES:
        return TransientError(f"AWS was busy while trying to {doing} ({code}); try again.")
    return ServiceError(f"AWS refused to {doing}: {code}: {error_message(exc)}")
