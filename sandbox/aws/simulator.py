"""IAM's policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy), which moto 5.2.5 lacks,
as methods of its IAM response class, so `signoff doctor` gets IAM's kind of answer locally.

The shapes follow the IAM API reference: one EvaluationResult per action and resource, with
EvalDecision `allowed`, `explicitDeny` or `implicitDeny`, the policies whose statements matched,
and the context keys a condition needed that the request did not give. Evaluation is
policy_eval.py's. Organizations SCPs and session policies are not simulated (the sandbox has
none).
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.iam.exceptions import InvalidInput, NotFoundException
from moto.iam.models import IAMBackend, ManagedPolicy
from moto.iam.responses import IamResponse

from sandbox.aws.policy_eval import Context, Evaluation, Policy, evaluate


def simulate_principal_policy(self: IamResponse) -> ActionResult:
    """The policies of a user, group or role (and any given as text) for each action."""
    source = str(self._get_param("PolicySourceArn") or "")
    identity, boundary = _principal_policies(self.backend, source)
    identity += _inputs(self._get_param("PolicyInputList", []), "user")
    boundary = _boundary(self._get_param("PermissionsBoundaryPolicyInputList", [])) or boundary
    caller = self._get_param("CallerArn") or (source if ":user/" in source else None)
    return _simulate(self, identity, boundary, caller)


def simulate_custom_policy(self: IamResponse) -> ActionResult:
    """Policies given as text, optionally with one resource-based policy, for each action."""
    identity = _inputs(self._get_param("PolicyInputList", []), "user")
    if not identity:
        raise InvalidInput("PolicyInputList must hold at least one policy document.")
    boundary = _boundary(self._get_param("PermissionsBoundaryPolicyInputList", []))
    return _simulate(self, identity, boundary, self._get_param("CallerArn"))


OPERATIONS = {
    "simulate_principal_policy": simulate_principal_policy,
    "simulate_custom_policy": simulate_custom_policy,
}


def _simulate(
    response: IamResponse, identity: list[Policy], boundary: Policy | None, caller: str | None
) -> ActionResult:
    actions = [str(a) for a in response._get_param("ActionNames", [])]
    if not actions:
        raise InvalidInput("ActionNames must name at least one action.")
    if any("*" in a for a in actions):
        raise InvalidInput("ActionNames may not hold wildcards.")
    resources = [str(r) for r in response._get_param("ResourceArns", [])] or ["*"]
    resource_text = response._get_param("ResourcePolicy")
    resource_policy = (
        Policy.parse("ResourcePolicy", "resource", resource_text) if resource_text else None
    )
    if resource_policy is not None and not (caller and ":user/" in caller):
        # As IAM documents: a resource policy needs a caller, and only an IAM user can be one.
        raise InvalidInput("CallerArn must be the ARN of an IAM user when ResourcePolicy is given.")
    context = _context(response._get_param("ContextEntries", []))
    results = []
    for action in actions:
        for resource in resources:
            found = evaluate(
                identity,
                action,
                resource,
                context,
                boundary=boundary,
                resource_policy=resource_policy,
                caller=caller,
            )
            results.append(_result(action, resource, found))
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


def _result(action: str, resource: str, found: Evaluation) -> dict[str, Any]:
    return {
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": found.decision,
        "MatchedStatements": [
            {"SourcePolicyId": p.policy_id, "SourcePolicyType": p.policy_type}
            for p in found.matched
        ],
        "MissingContextValues": sorted(found.missing),
    }


def _context(entries: list[dict[str, Any]]) -> Context:
    context: dict[str, list[str]] = {}
    for entry in entries or []:
        name = str(entry.get("ContextKeyName", ""))
        values = entry.get("ContextKeyValues") or []
        context[name] = [str(v) for v in values]
    return context


def _inputs(texts: list[str], policy_type: str) -> list[Policy]:
    try:
        return [
            Policy.parse(f"PolicyInputList.{i + 1}", policy_type, t)
            for i, t in enumerate(texts or [])
        ]
    except ValueError as exc:
        raise InvalidInput(f"A policy document is not valid JSON: {exc}") from None


def _boundary(texts: list[str]) -> Policy | None:
    if not texts:
        return None
    return Policy.parse("PermissionsBoundaryPolicyInputList.1", "permissions boundary", texts[0])


def _principal_policies(backend: IAMBackend, arn: str) -> tuple[list[Policy], Policy | None]:
    """Inline and attached policies of the entity `arn` names (a user's groups' too), and its
    permissions boundary."""
    kind, _, path_name = arn.split(":", 5)[-1].partition("/")
    name = path_name.rsplit("/", 1)[-1]
    try:
        if kind == "role":
            entity: Any = backend.get_role(name)
            holders = [(entity, "role")]
        elif kind == "user":
            entity = backend.get_user(name)
            holders = [(entity, "user")] + [(g, "group") for g in backend.get_groups_for_user(name)]
        elif kind == "group":
            entity = backend.get_group(name)
            holders = [(entity, "group")]
        else:
            raise InvalidInput(f"PolicySourceArn {arn} is not a user, group or role.")
    except NotFoundException:
        raise NotFoundException(f"The entity {arn} does not exist.") from None
    policies: list[Policy] = []
    for holder, policy_type in holders:
        for policy_name, text in holder.policies.items():
            policies.append(Policy.parse(policy_name, policy_type, text))
        for policy_arn, managed in holder.managed_policies.items():
            policies.append(_managed(policy_arn, managed))
    boundary_arn = getattr(entity, "permissions_boundary_arn", None)
    boundary = None
    if boundary_arn:
        boundary = _managed(boundary_arn, backend.get_policy(boundary_arn), "permissions boundary")
    return policies, boundary


def _managed(arn: str, policy: ManagedPolicy, policy_type: str | None = None) -> Policy:
    document = next(v.document for v in policy.versions if v.is_default)
    kind = policy_type or ("aws-managed" if ":aws:policy/" in arn else "managed")
    return Policy.parse(arn, kind, document)
