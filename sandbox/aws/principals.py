"""Who is calling (from the request's access key) and whether they are a listed approver."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

# A SigV4 Authorization header's credential scope: the access key, the region and the service.
_SCOPE = re.compile(
    r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/"
)
_ARN = re.compile(
    r"^arn:(?P<partition>[^:]+):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<rest>.+)$"
)


@dataclass(frozen=True)
class Principal:
    """An IAM identity as SSM sees it: a user, or one session of an assumed role."""

    arn: str
    kind: str  # "user" | "assumed-role" | "role" | "other"
    account: str
    name: str  # user name or role name
    session: str | None = None


def parse_principal(arn: str) -> Principal:
    match = _ARN.match(arn)
    if not match:
        return Principal(arn, "other", "", arn)
    account, rest = match["account"], match["rest"]
    kind, _, path = rest.partition("/")
    if match["service"] == "sts" and kind == "assumed-role":
        role, _, session = path.partition("/")
        return Principal(arn, "assumed-role", account, role, session)
    if kind in ("user", "role"):
        # IAM paths (user/division/alice) do not change who the principal is.
        return Principal(arn, kind, account, path.rsplit("/", 1)[-1])
    return Principal(arn, "other", account, path)


def signing_scope(environ: Mapping[str, Any]) -> re.Match[str] | None:
    """The request's credential scope (groups `key`, `region`, `service`); None if unsigned."""
    return _SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))


def caller_arn(account_id: str, region: str, access_key_id: str) -> str:
    """The ARN AWS would attribute a request to, using moto's own STS resolution.

    Keys from `sts:AssumeRole` resolve to `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`, IAM user
    keys to the user ARN, anything else to moto's default `arn:aws:sts::ACCT:user/moto`.
    """
    backend = sts_backends[account_id][get_partition(region)]
    _, arn, _ = backend.get_caller_identity(access_key_id, region)
    return str(arn)


def approver_matches(entry: str, caller: Principal, account_id: str) -> bool:
    """Does one `Approvers` entry cover this caller?

    Accepted forms (SSM user guide, aws:approve): a user name, a user ARN, a role ARN, which
    matches any session of that role, and an assumed-role session ARN, which matches exactly
    that session.
    """
    entry = entry.strip()
    if not entry.startswith("arn:"):
        return caller.kind == "user" and caller.account == account_id and caller.name == entry
    listed = parse_principal(entry)
    if listed.kind == "user":
        return caller.kind == "user" and (caller.account, caller.name) == (
            listed.account,
            listed.name,
        )
    if listed.kind == "role":
        return caller.kind == "assumed-role" and (caller.account, caller.name) == (
            listed.account,
            listed.name,
        )
    if listed.kind == "assumed-role":
        return caller.kind == "assumed-role" and (
            caller.account,
            caller.name,
            caller.session,
        ) == (listed.account, listed.name, listed.session)
    return False
