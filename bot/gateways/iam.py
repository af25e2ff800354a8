"""IAM and Secrets Manager I/O for access keys: the only code that ever holds a secret key."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from bot.errors import ServiceError
from bot.gateways.aws import AWS_FAILURES, AwsFailure, error_code, wrap_aws_error

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

logger = logging.getLogger(__name__)

# The tag that ties a secret to the automation execution that issued it (idempotency's backstop).
EXECUTION_TAG = "signoff:execution-id"
# Secrets Manager tag values: at most 256 characters of letters, digits, spaces and _.:/=+-@.
_TAG_VALUE_MAX = 256
_READ_ACTIONS = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})


class IamUser(msgspec.Struct, frozen=True):
    """An IAM user as GetUser describes it: name, ARN and the IAM path it sits under."""

    name: str
    arn: str
    path: str = "/"

    def is_under(self, path: str) -> bool:
        """Whether the user sits under `path` (e.g. `/signoff-keys/`), nested paths included."""
        return self.path.startswith(path)


class IamUserDenied(ServiceError):
    """IAM refused Signoff this user.

    The template grants Signoff IAM calls only on users under `KeyUserPath`, so IAM answers
    AccessDenied for a user outside it (and, as it cannot tell, for a user that does not exist).
    """

    def __init__(self, user_name: str) -> None:
        super().__init__(f"IAM denies Signoff access to the IAM user {user_name}")
        self.user_name = user_name


class AccessKeyGateway:
    """Looks up IAM users and issues a key straight into a new secret.

    `issue_into_secret` creates the secret and its policy first and the key last, so the secret
    key goes from IAM's response to Secrets Manager without ever leaving this class, and is
    never stored where its readers are not yet restricted.
    """

    def __init__(self, iam: IAMClient, secrets: SecretsManagerClient) -> None:
        self._iam = iam
        self._secrets = secrets

    def user(self, user_name: str) -> IamUser | None:
        """The IAM user, or None when no such user exists; IamUserDenied when IAM refuses."""
        try:
            user = self._iam.get_user(UserName=user_name)["User"]
        except AWS_FAILURES as exc:
            if error_code(exc) == "NoSuchEntity":
                return None
            raise _user_error(exc, user_name, f"look up the IAM user {user_name}") from exc
        return IamUser(user["UserName"], user["Arn"], user.get("Path") or "/")

    def key_count(self, user_name: str) -> int:
        """How many access keys (active or not) the user has; IAM allows two."""
        try:
            pages = self._iam.get_paginator("list_access_keys").paginate(UserName=user_name)
            return sum(len(page["AccessKeyMetadata"]) for page in pages)
        except AWS_FAILURES as exc:
            raise _user_error(exc, user_name, f"list the access keys of {user_name}") from exc

    def secret_for_execution(self, execution_id: str) -> str | None:
        """Name of a secret an earlier attempt of this execution filled, if one exists."""
        try:
            pages = self._secrets.get_paginator("list_secrets").paginate(
                Filters=[
                    {"Key": "tag-key", "Values": [EXECUTION_TAG]},
                    {"Key": "tag-value", "Values": [execution_id]},
                ]
            )
            found = [
                s
                for page in pages
                for s in page["SecretList"]
                if {"Key": EXECUTION_TAG, "Value": execution_id} in s.get("Tags", [])
            ]
        except AWS_FAILURES as exc:
            raise wrap_aws_error(exc, "look for an already issued key") from exc
        filled = [s["Name"] for s in found if s.get("SecretVersionsToStages")]
        return filled[0] if filled else None

    def issue_into_secret(
        self,
        user_name: str,
        secret_name: str,
        readers: Sequence[str],
        tags: Mapping[str, str],
    ) -> str:
        """Create `secret_name` readable only by `readers`, then a key for the user inside it.

        Returns the secret's ARN. On any failure nothing is left behind: no empty secret, no key
        that nobody can read.
        """
        arn = self._create_secret(secret_name, tags)
        try:
            self._restrict(arn, readers)
            self._fill(arn, user_name)
        except Exception:
            self._delete_secret(arn)
            raise
        return arn

    def _create_secret(self, name: str, tags: Mapping[str, str]) -> str:
        try:
            response = self._secrets.create_secret(
                Name=name,
                Description="IAM access key issued by Signoff after approval in Slack",
                Tags=[{"Key": k, "Value": v[:_TAG_VALUE_MAX]} for k, v in tags.items() if v],
            )
        except AWS_FAILURES as exc:
            raise wrap_aws_error(exc, f"create the secret {name}") from exc
        return response["ARN"]

    def _restrict(self, arn: str, readers: Sequence[str]) -> None:
        try:
            self._secrets.put_resource_policy(
                SecretId=arn, ResourcePolicy=read_policy(readers), BlockPublicPolicy=True
            )
        except AWS_FAILURES as exc:
            raise wrap_aws_error(exc, "restrict who may read the secret") from exc

    def _fill(self, arn: str, user_name: str) -> None:
        try:
            key = self._iam.create_access_key(UserName=user_name)["AccessKey"]
        except AWS_FAILURES as exc:
            raise _user_error(exc, user_name, f"create an access key for {user_name}") from exc
        value = json.dumps(
            {"UserName": user_name, "AccessKeyId": key["AccessKeyId"], **_secret_part(key)}
        )
        try:
            self._secrets.put_secret_value(SecretId=arn, SecretString=value)
        except AWS_FAILURES as exc:
            self._delete_key(user_name, key["AccessKeyId"])
            code = error_code(exc) or type(exc).__name__
            # `from None`: a client-side validation error would quote the parameter, i.e. the key.
            raise ServiceError(f"AWS refused to store the new key in the secret: {code}") from None

    def _delete_key(self, user_name: str, access_key_id: str) -> None:
        try:
            self._iam.delete_access_key(UserName=user_name, AccessKeyId=access_key_id)
        except AWS_FAILURES:
            logger.exception(
                "could not delete an access key that was never stored; delete it by hand",
                extra={"iam_user": user_name, "access_key_id": access_key_id},
            )

    def _delete_secret(self, arn: str) -> None:
        try:
            self._secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        except AWS_FAILURES:
            logger.exception("could not delete a half-made secret", extra={"secret": arn})


def _user_error(exc: AwsFailure, user_name: str, doing: str) -> ServiceError:
    # A user moved out of KeyUserPath between two calls is denied by the next one.
    if error_code(exc) in _ACCESS_DENIED:
        return IamUserDenied(user_name)
    return wrap_aws_error(exc, doing)


def read_policy(readers: Sequence[str]) -> str:
    """A resource policy: the readers may read the secret, and no other principal may.

    The explicit Deny matters: in the same account, any identity policy granting
    secretsmanager:GetSecretValue on * would otherwise let its holder read the key.
    """
    principals = sorted(set(readers))
    policy: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnerAndAdminsRead",
                "Effect": "Allow",
                "Principal": {"AWS": principals},
                "Action": _READ_ACTIONS,
                "Resource": "*",
            },
            {
                "Sid": "NobodyElseReads",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": principals}},
            },
        ],
    }
    return json.dumps(policy)


def _secret_part(key: Mapping[str, Any]) -> dict[str, str]:
    # Kept apart so the one line that touches the secret key is easy to audit.
    return {"SecretAccessKey": str(key["SecretAccessKey"])}
