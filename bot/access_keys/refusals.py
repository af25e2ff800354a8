"""Why a key request starts nothing: each refusal names the form field it is about, so a modal
can show it in place."""

from __future__ import annotations

from bot.errors import InvalidRequest


class KeyRequestRefused(InvalidRequest):
    """A key request that starts nothing; `field` is the input it is about."""

    field = "iam_user"


class BadIamUserName(KeyRequestRefused):
    """Not a name IAM would accept."""


class ReasonMissing(KeyRequestRefused):
    """No reason given (or one too long to pass to SSM and show on a card)."""

    field = "reason"


class NoIamUserMapped(KeyRequestRefused):
    """The requester has no IAM user in the identities table and is not an admin."""


class NotYourIamUser(KeyRequestRefused):
    """A non-admin asked for an IAM user other than their own."""


class UnknownIamUser(KeyRequestRefused):
    """IAM has no such user."""


class IamUserOutOfReach(KeyRequestRefused):
    """IAM denies Signoff that user (outside the IAM path the deployment manages)."""


class KeyRequestPending(KeyRequestRefused):
    """A request for that IAM user is already waiting or being started."""


class KeyLimitReached(KeyRequestRefused):
    """The IAM user already has as many access keys as IAM allows."""
