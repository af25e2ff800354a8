"""IAM on the local AWS: each request of a role session is held to that role's policies.

moto has an IAM access-control mode (`INITIAL_NO_AUTH_ACTION_COUNT`, moto.core.authorization),
but as shipped in 5.2.5 it cannot serve the sandbox: it names the request's resource only for
IAM roles, STS AssumeRole and SQS queues (`_determine_resource`), and checks every other call
against "*", so a statement naming a table or a secret never matches and every least-privilege
role is refused; it requires every caller, the tests and the engine included, to sign with a
known IAM key; and it turns an Allow whose Condition it cannot evaluate into an explicit Deny.

So the sandbox keeps moto's switch off and does the part it can do right, through the same
hook (`_authenticate_and_authorize_normal_action`, which every moto response calls first) and
with moto's own policy evaluator (`IAMPolicy`):
- callers: sessions of IAM roles (the functions run as their roles, approvers act through
  their roles, runbooks run as their assume role). IAM users and moto's default credentials
  (tests, `signoff` run by an operator) are not checked;
- what is checked: the role's identity policies (inline and attached), for the action and the
  resource the request names (below), wildcards as IAM matches them. No Allow, or a Deny:
  AccessDenied, as AWS answers;
- what is not: conditions (moto evaluates none of the request's keys: sts:SourceIdentity,
  iam:PassedToService, aws:SourceAccount), resource policies (secrets, Lambda, SNS), trust
  policies, permission boundaries, SCPs and session policies, and iam:PassRole (AWS checks it
  inside StartAutomationExecution; moto makes no such call). SECURITY.md lists them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError, JsonRESTError
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.models import iam_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from sandbox.aws.principals import signing_scope

log = logging.getLogger(__name__)

# Services that answer in JSON: AWS calls their refusal AccessDeniedException.
_JSON_SERVICES = frozenset({"dynamodb", "ssm", "secretsmanager", "states", "lambda", "logs"})
# IAM's name for an operation where it differs from the API's.
_IAM_ACTION = {"lambda:Invoke": "lambda:InvokeFunction"}

_enforcing = False
_moto_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action


def enforce(on: bool = True) -> bool:
    """Check role sessions' requests from now on (or stop); returns the previous setting."""
    global _enforcing
    previous, _enforcing = _enforcing, on
    # Installed once and left: with enforcement off it hands every request to moto's own.
    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _authorize  # type: ignore[method-assign]
    return previous


def enforcing() -> bool:
    return _enforcing


def permits(account: str, region: str, access_key_id: str, action: str, resource: str) -> bool:
    """Whether the local AWS lets this caller do `action` on `resource` (True when not
    enforcing, and for callers that are not role sessions)."""
    if not _enforcing:
        return True
    sts = sts_backends[account][get_partition(region)]
    session = sts.get_assumed_role_from_access_key(access_key_id)
    if session is None:
        return True
    return _permitted(account, region, session.role_arn.rsplit("/", 1)[-1], action, resource)


def _authorize(response: Any, resource: str = "*") -> None:
    if not _enforcing:
        _moto_authorize(response, resource)
        return
    scope = signing_scope({"HTTP_AUTHORIZATION": response.headers.get("Authorization", "")})
    if scope is None:
        return  # unsigned: moto's own control paths
    account, region = response.current_account, response.region
    session = sts_backends[account][get_partition(region)].get_assumed_role_from_access_key(
        scope["key"]
    )
    if session is None:
        return  # an IAM user or moto's default credentials: not checked (module docstring)
    action = f"{scope['service']}:{response._get_action()}"
    action = _IAM_ACTION.get(action, action)
    role_name = session.role_arn.rsplit("/", 1)[-1]
    try:
        named_resources = _resources(response, scope["service"], action, account, region)
    except Exception:
        log.exception("could not name the resource of %s; checking it against %r", action, resource)
        named_resources = None
    for named in named_resources or [resource]:
        if not _permitted(account, region, role_name, action, named):
            log.info("AccessDenied: %s may not %s on %s", session.arn, action, named)
            if scope["service"] in _JSON_SERVICES:
                raise JsonRESTError(
                    "AccessDeniedException",
                    f"User: {session.arn} is not authorized to perform: {action} on resource: "
                    f"{named} because no identity-based policy allows the {action} action",
                )
            raise AccessDeniedError(user_arn=session.arn, action=action)


def _permitted(account: str, region: str, role_name: str, action: str, resource: str) -> bool:
    iam = iam_backends[account][get_partition(region)]
    try:
        policies: list[Any] = [
            iam.get_role_policy(role_name, name)[1] for name in iam.list_role_policies(role_name)
        ]
        policies += iam.list_attached_role_policies(role_name)[0]
    except Exception:
        return False  # a session of a role since deleted
    allowed = False
    for policy in policies:
        result = IAMPolicy(policy).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return False
        allowed = allowed or result == PermissionResult.PERMITTED
    return allowed


# --- The resource a request names, as IAM's service authorization reference has it ------------


def _resources(
    response: Any, service: str, action: str, account: str, region: str
) -> list[str] | None:
    """The ARNs IAM checks for this request; None: the one moto determined (or "*")."""
    namer = _NAMERS.get(service)
    if namer is None:
        return None
    partition = get_partition(region)
    arn = f"arn:{partition}:{service}:{region}:{account}"
    return namer(response, action, arn, account)


def _param(response: Any, name: str) -> Any:
    value = response._get_param(name)
    if value is not None:
        return value
    body = response.body
    if isinstance(body, str | bytes) and body:
        try:
            body = json.loads(body)
        except ValueError:
            return None
    return body.get(name) if isinstance(body, dict) else None


def _dynamodb(response: Any, action: str, arn: str, account: str) -> list[str] | None:
    if action == "dynamodb:BatchGetItem":
        items = _param(response, "RequestItems") or {}
        return [f"{arn}:table/{name}" for name in items] or None
    table = _param(response, "TableName")
    if not table:
        return None
    index = _param(response, "IndexName")
    return [f"{arn}:table/{table}" + (f"/index/{index}" if index else "")]


def _ssm(response: Any, action: str, arn: str, account: str) -> list[str] | None:
    execution = _param(response, "AutomationExecutionId")
    if execution:
        return [f"{arn}:automation-execution/{execution}"]
    if action == "ssm:StartAutomationExecution":
        document = _param(response, "DocumentName")
        version = _param(response, "DocumentVersion") or "$DEFAULT"
        return [f"{arn}:automation-definition/{document}:{version}"]
    return None


def _secretsmanager(response: Any, action: str, arn: str, account: str) -> list[str] | None:
    if action == "secretsmanager:CreateSecret":
        # The new secret's ARN ends in a random suffix IAM policies match with "*".
        return [f"{arn}:secret:{_param(response, 'Name')}-AbCdEf"]
    secret_id = _param(response, "SecretId")
    if not secret_id:
        return None
    region = arn.split(":")[3]
    secrets = secretsmanager_backends[account][region].secrets
    if secret_id in secrets:
        return [str(secrets[secret_id].arn)]
    return [secret_id if secret_id.startswith("arn:") else f"{arn}:secret:{secret_id}-AbCdEf"]


def _lambda(response: Any, action: str, arn: str, account: str) -> list[str] | None:
    parts = response.path.split("/functions/", 1)
    if len(parts) < 2:
        return None
    name = unquote(parts[1].split("/", 1)[0])
    if name.startswith("arn:"):
        return [name]
    function, _, qualifier = name.partition(":")
    qualifier = qualifier or _param(response, "Qualifier") or ""
    return [f"{arn}:function:{function}" + (f":{qualifier}" if qualifier else "")]


def _states(response: Any, action: str, arn: str, account: str) -> list[str] | None:
    for name in ("executionArn", "stateMachineArn"):
        value = _param(response, name)
        if value:
            return [str(value)]
    return None


def _sts(response: Any, action: str, arn: str, account: str) -> list[str] | None:
    role = _param(response, "RoleArn")
    return [str(role)] if role else None


def _iam(response: Any, action: str, arn: str, account: str) -> list[str] | None:
    user = _param(response, "UserName")
    if not user:
        return None
    partition = arn.split(":")[1]
    found = iam_backends[account][partition].users.get(user)
    # A user that does not exist is named at the root path, as IAM does.
    return [str(found.arn) if found else f"arn:{partition}:iam::{account}:user/{user}"]


def _sns(response: Any, action: str, arn: str, account: str) -> list[str] | None:
    topic = _param(response, "TopicArn")
    return [str(topic)] if topic else None


_NAMERS: dict[str, Callable[[Any, str, str, str], list[str] | None]] = {
    "dynamodb": _dynamodb,
    "ssm": _ssm,
    "secretsmanager": _secretsmanager,
    "lambda": _lambda,
    "states": _states,
    "sts": _sts,
    "iam": _iam,
    "sns": _sns,
}
