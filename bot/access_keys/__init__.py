"""Flow C: request an IAM access key from Slack, issue it after approval, tell the requester.

requests (check `/request-key`, start the runbook once), outcomes (tell how it ended, once
each), issuer (the runbook's Lambda step), refusals (what a requester reads instead).
"""

from bot.access_keys.issuer import KeyIssuer, secret_name
from bot.access_keys.outcomes import (
    ISSUE_ACTION,
    RECONCILE_MAX_TOLD,
    RECONCILE_PAGES,
    RECONCILE_WINDOW,
    KeyOutcomes,
)
from bot.access_keys.refusals import (
    BadIamUserName,
    IamUserOutOfReach,
    KeyLimitReached,
    KeyRequestPending,
    KeyRequestRefused,
    NoIamUserMapped,
    NotYourIamUser,
    ReasonMissing,
    UnknownIamUser,
)
from bot.access_keys.requests import IAM_USER_NAME, KeyRequestService, read_command

__all__ = [
    "IAM_USER_NAME",
    "ISSUE_ACTION",
    "RECONCILE_MAX_TOLD",
    "RECONCILE_PAGES",
    "RECONCILE_WINDOW",
    "BadIamUserName",
    "IamUserOutOfReach",
    "KeyIssuer",
    "KeyLimitReached",
    "KeyOutcomes",
    "KeyRequestPending",
    "KeyRequestRefused",
    "KeyRequestService",
    "NoIamUserMapped",
    "NotYourIamUser",
    "ReasonMissing",
    "UnknownIamUser",
    "read_command",
    "secret_name",
]
