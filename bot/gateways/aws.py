"""What every AWS gateway shares: turning a failed botocore call into a domain error."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.exceptions import ConnectionError as NoConnection

from bot.errors import ServiceError, TransientError

# Everything a botocore call raises when it fails: AWS's refusal (ClientError), or no answer at
# all and other failures on this side of the wire (BotoCoreError: timeouts, dropped connections,
# missing credentials). A gateway catches both, so no raw botocore error reaches a service.
AWS_FAILURES = (ClientError, BotoCoreError)
AwsFailure = ClientError | BotoCoreError
# No answer: a read that timed out or a connection dropped (HTTPClientError), or no connection made
# (botocore's ConnectionError: the endpoint could not be reached, the connect timed out).
_NO_ANSWER = (HTTPClientError, NoConnection)
# Failures whose text says what to set up and quotes nothing a request carried. Others may quote
# a value (botocore's ValidationError does), so a message names only their kind.
_SETUP = (NoCredentialsError, PartialCredentialsError, NoRegionError, ProfileNotFound)

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


def error_code(exc: AwsFailure) -> str:
    """AWS's error code; "" when AWS never answered (a BotoCoreError)."""
    if not isinstance(exc, ClientError):
        return ""
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: AwsFailure) -> str:
    if not isinstance(exc, ClientError):
        return ""
    return str(exc.response.get("Error", {}).get("Message", ""))


def wrap_aws_error(exc: AwsFailure, doing: str) -> ServiceError:
    """A domain error that says what the bot was doing; what a retry may fix is a TransientError.

    AWS's transient codes and every failure to hear from AWS at all (a timeout or a dropped
    connection, after botocore's own retries) are transient. Whether a request that timed out
    was carried out is unknown: a caller that must not do a thing twice checks before retrying.
    """
    if isinstance(exc, _NO_ANSWER):
        return TransientError(
            f"AWS did not answer while the bot tried to {doing} ({type(exc).__name__}); try again."
        )
    if isinstance(exc, ParamValidationError):
        # Its text quotes the parameter it refused, which may be a secret.
        return ServiceError(f"botocore refused the parameters to {doing} (ParamValidationError)")
    if isinstance(exc, _SETUP):
        return ServiceError(f"Could not {doing}: {type(exc).__name__}: {exc}")
    if isinstance(exc, BotoCoreError):
        return ServiceError(f"Could not {doing} ({type(exc).__name__})")
    code = error_code(exc)
    if code in TRANSIENT_CODES:
        return TransientError(f"AWS was busy while trying to {doing} ({code}); try again.")
    return ServiceError(f"AWS refused to {doing}: {code}: {error_message(exc)}")
