"""The template's IAM statements, read as CloudFormation would create them (tests/infra, e2e)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sandbox.template import Resolver

# The roles the template's Lambda functions run as.
FUNCTION_ROLES = frozenset(
    {
        "SlackEventsRole",
        "ApprovalNoticeRole",
        "AutomationResultRole",
        "ReconcileRole",
        "StartApprovalRole",
        "IssueAccessKeyRole",
    }
)


@dataclass(frozen=True)
class Grant:
    owner: str
    kind: str  # "trust" or "permissions"
    statement: dict[str, Any]

    @property
    def actions(self) -> list[str]:
        return _list(self.statement.get("Action"))

    @property
    def resources(self) -> list[Any]:
        return _list(self.statement.get("Resource"))


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def grants(template: dict[str, Any], resolve: Resolver | None = None) -> Iterator[Grant]:
    """Every IAM statement of the template (resolved, for existing resources, if `resolve`)."""
    for logical_id, resource in template["Resources"].items():
        if resolve is not None and not resolve.resource_exists(logical_id):
            continue
        properties = resource.get("Properties", {})
        if resolve is not None:
            properties = resolve.resolve(properties)
        documents: list[tuple[str, dict[str, Any]]] = []
        if resource["Type"] == "AWS::IAM::Role":
            documents.append(("trust", properties["AssumeRolePolicyDocument"]))
            for policy in properties.get("Policies", []):
                documents.append(("permissions", policy["PolicyDocument"]))
        elif resource["Type"] in {"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"}:
            documents.append(("permissions", properties["PolicyDocument"]))
        for kind, document in documents:
            for statement in document["Statement"]:
                yield Grant(logical_id, kind, statement)


def role_actions(template: dict[str, Any], resolve: Resolver, role: str) -> set[str]:
    """Every action the role `role` (a logical id) is allowed: its own policies and the
    template's policies attached to it (ManagedPolicyArns, or a Policy naming it in Roles)."""
    resources = template["Resources"]
    attached = {
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] in {"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"}
        and (
            _refers_to(resources[role]["Properties"].get("ManagedPolicyArns", []), logical_id)
            or _refers_to(resource["Properties"].get("Roles", []), role)
        )
    }
    return {
        action
        for grant in grants(template, resolve)
        if grant.kind == "permissions"
        and grant.statement.get("Effect") == "Allow"
        and (grant.owner == role or grant.owner in attached)
        for action in grant.actions
    }


def _refers_to(value: Any, logical_id: str) -> bool:
    """Whether `value` holds {"Ref": logical_id} anywhere (inside an Fn::If, say)."""
    if isinstance(value, dict):
        return value.get("Ref") == logical_id or any(
            _refers_to(v, logical_id) for v in value.values()
        )
    if isinstance(value, list):
        return any(_refers_to(v, logical_id) for v in value)
    return False
