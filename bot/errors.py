"""Domain errors: raised by services, turned into words a person can act on at the edge."""

from __future__ import annotations

from collections.abc import Iterable


class SignoffError(Exception):
    """Base of every error Signoff raises on purpose."""


class ConfigError(SignoffError):
    """The environment is missing or malforms a setting."""


class InvalidPayload(SignoffError):
    """An event lacks or malforms keys its model needs: (key, problem) for each, in key order.

    A problem says what is wrong ("is missing", "is not an SNS topic ARN"), never quoting a secret.
    The key "" stands for the event itself.
    """

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{key} {what}" if key else what for key, what in self.problems))


class UserFacingError(SignoffError):
    """A refusal the person who acted should read, with what to do about it."""


class NotMapped(UserFacingError):
    """The Slack user has no IAM principal in the identities table."""


class NotAnApprover(UserFacingError):
    """The mapped principal is not among the execution's Approvers."""


class SelfApproval(UserFacingError):
    """The requester of an access key tried to approve their own request."""


class AlreadyDecided(UserFacingError):
    """This principal already sent a decision for this step."""


class ApprovalClosed(UserFacingError):
    """The step is no longer waiting (approved, rejected, timed out or cancelled)."""


class RoleNotAssumable(UserFacingError):
    """STS refused to let the bot assume the mapped approver role."""


class InvalidRequest(UserFacingError):
    """Input from a person (slash command, modal) is malformed."""


class ApprovalNotFound(UserFacingError):
    """No automation execution exists with that id."""


class ServiceError(SignoffError):
    """AWS or Slack refused a call for a reason a retry will not fix."""


class TransientError(ServiceError):
    """AWS or Slack failed in a way a retry may fix (throttling, 5xx)."""
