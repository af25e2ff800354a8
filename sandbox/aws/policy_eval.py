"""IAM policy evaluation for the sandbox's policy simulator: statements, wildcards, conditions.

moto 5.2.5's own evaluator (moto/iam/access_control.py, used by its access-control mode) cannot
answer a simulation: it skips every condition operator but StringEquals (as satisfied), turns an
Allow whose condition fails into a Deny, and matches actions case-sensitively. This one follows
the IAM User Guide's evaluation logic for one account: an explicit Deny wins, else an Allow is
needed, and a permissions boundary must allow too. A condition operator it does not know is not
satisfied, so an unknown test can only deny, never allow.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ALLOWED = "allowed"
EXPLICIT_DENY = "explicitDeny"
IMPLICIT_DENY = "implicitDeny"

Context = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Policy:
    """One policy document and how the simulator names it in MatchedStatements."""

    policy_id: str
    policy_type: str  # IAM's PolicySourceType: user, group, role, aws-managed, resource, …
    document: Mapping[str, Any]

    @staticmethod
    def parse(policy_id: str, policy_type: str, text: str | Mapping[str, Any]) -> Policy:
        document = json.loads(text) if isinstance(text, str) else dict(text)
        if not isinstance(document, dict):
            raise ValueError("a policy document is a JSON object")
        return Policy(policy_id, policy_type, document)

    def statements(self) -> list[Mapping[str, Any]]:
        found = self.document.get("Statement", [])
        return [s for s in _listed(found) if isinstance(s, dict)]


@dataclass
class Evaluation:
    """What the simulator answers for one action on one resource."""

    decision: str = IMPLICIT_DENY
    # The policies whose statements decided: the denying ones for a deny, else the allowing ones
    # (IAM: "the statements in the input policies that determine the result").
    matched: list[Policy] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)
    by_effect: dict[str, list[Policy]] = field(default_factory=dict)


def evaluate(
    identity: Iterable[Policy],
    action: str,
    resource: str,
    context: Context,
    *,
    boundary: Policy | None = None,
    resource_policy: Policy | None = None,
    caller: str | None = None,
) -> Evaluation:
    """Whether `identity` policies (with the boundary and resource policy) allow the request."""
    result = Evaluation()
    identity_effects = _effects(identity, action, resource, context, result)
    resource_effects: set[str] = set()
    if resource_policy is not None:
        resource_effects = _effects(
            [resource_policy], action, resource, context, result, principal=caller or ""
        )
    boundary_effects = (
        _effects([boundary], action, resource, context, result) if boundary else {"Allow"}
    )
    if "Deny" in identity_effects | resource_effects | boundary_effects:
        result.decision = EXPLICIT_DENY
        result.matched = result.by_effect["Deny"]
    elif "Allow" in identity_effects | resource_effects and "Allow" in boundary_effects:
        result.decision = ALLOWED
        result.matched = result.by_effect["Allow"]
    return result


def _effects(
    policies: Iterable[Policy],
    action: str,
    resource: str,
    context: Context,
    result: Evaluation,
    principal: str | None = None,
) -> set[str]:
    effects: set[str] = set()
    for policy in policies:
        for statement in policy.statements():
            if principal is not None and not _names_principal(statement, principal):
                continue
            if not _applies(statement, "Action", "NotAction", action, _action_matches):
                continue
            # A trust policy, given as a resource policy, has no Resource: it is about the role.
            scoped = principal is None or "Resource" in statement or "NotResource" in statement
            if scoped and not _applies(
                statement, "Resource", "NotResource", resource, _resource_matches
            ):
                continue
            if not conditions_hold(statement.get("Condition", {}), context, result.missing):
                continue
            effect = str(statement.get("Effect"))
            effects.add(effect)
            deciding = result.by_effect.setdefault(effect, [])
            if policy not in deciding:
                deciding.append(policy)
    return effects


def _applies(
    statement: Mapping[str, Any],
    key: str,
    negated: str,
    value: str,
    matches: Callable[[str, str], bool],
) -> bool:
    if key in statement:
        return any(matches(str(p), value) for p in _listed(statement[key]))
    if negated in statement:
        return not any(matches(str(p), value) for p in _listed(statement[negated]))
    return False


def _names_principal(statement: Mapping[str, Any], caller: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    named = _listed(principal.get("AWS")) if isinstance(principal, dict) else []
    parts = caller.split(":")
    account = parts[4] if len(parts) > 5 else ""
    root = f"arn:{parts[1]}:iam::{account}:root" if len(parts) > 5 else ""
    return any(n in {"*", caller, account, root} for n in map(str, named))


# -- conditions -----------------------------------------------------------------------------------


def conditions_hold(condition: Any, context: Context, missing: set[str]) -> bool:
    """Every operator block holds (AND); within one, every key holds; `missing` collects keys a
    condition needed that the context lacks."""
    if not isinstance(condition, dict):
        return False
    for operator, tests in condition.items():
        if not isinstance(tests, dict):
            return False
        for key, expected in tests.items():
            if not _holds(str(operator), str(key), _listed(expected), context, missing):
                return False
    return True


def _holds(
    operator: str, key: str, expected: list[Any], context: Context, missing: set[str]
) -> bool:
    actual = _lookup(context, key)
    if operator == "Null":
        # Null: true tests that the key is absent, false that it is present.
        wanted = {str(e).lower() for e in expected}
        return (actual is None and "true" in wanted) or (actual is not None and "false" in wanted)
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    test = _OPERATORS.get(name)
    if test is None or qualifier not in {"", "ForAnyValue", "ForAllValues"}:
        return False  # an operator this simulator does not know denies, never allows
    if actual is None:
        if if_exists or qualifier == "ForAllValues":
            return True
        missing.add(key)
        # A negated operator holds when the key is absent (IAM User Guide, condition operators).
        return name in _NEGATED
    if name in _NEGATED:
        positive = _OPERATORS[_NEGATED[name]]
        if qualifier == "ForAllValues":
            return all(not any(positive(str(e), a) for e in expected) for a in actual)
        if qualifier == "ForAnyValue":
            return any(not any(positive(str(e), a) for e in expected) for a in actual)
        return not any(positive(str(e), a) for a in actual for e in expected)
    if qualifier == "ForAllValues":
        return all(any(test(str(e), a) for e in expected) for a in actual)
    return any(test(str(e), a) for a in actual for e in expected)


def _lookup(context: Context, key: str) -> list[str] | None:
    # Condition keys compare case-insensitively; their values do not.
    for name, values in context.items():
        if name.lower() == key.lower():
            return [str(v) for v in values]
    return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def test(expected: str, actual: str) -> bool:
        e, a = _number(expected), _number(actual)
        return e is not None and a is not None and compare(a, e)

    return test


def _moment(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        seconds = _number(text)
        return datetime.fromtimestamp(seconds) if seconds is not None else None


def _dated(compare: Callable[[datetime, datetime], bool]) -> Callable[[str, str], bool]:
    def test(expected: str, actual: str) -> bool:
        e, a = _moment(expected), _moment(actual)
        return e is not None and a is not None and compare(a, e)

    return test


def _ip(expected: str, actual: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


def _bool(expected: str, actual: str) -> bool:
    return expected.lower() in {"true", "false"} and expected.lower() == actual.lower()


_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda e, a: e == a,
    "StringEqualsIgnoreCase": lambda e, a: e.lower() == a.lower(),
    "StringLike": lambda e, a: _wildcard(e, a),
    "ArnEquals": lambda e, a: _arn_matches(e, a),
    "ArnLike": lambda e, a: _arn_matches(e, a),
    "NumericEquals": _numeric(lambda a, e: a == e),
    "NumericLessThan": _numeric(lambda a, e: a < e),
    "NumericLessThanEquals": _numeric(lambda a, e: a <= e),
    "NumericGreaterThan": _numeric(lambda a, e: a > e),
    "NumericGreaterThanEquals": _numeric(lambda a, e: a >= e),
    "DateEquals": _dated(lambda a, e: a == e),
    "DateLessThan": _dated(lambda a, e: a < e),
    "DateLessThanEquals": _dated(lambda a, e: a <= e),
    "DateGreaterThan": _dated(lambda a, e: a > e),
    "DateGreaterThanEquals": _dated(lambda a, e: a >= e),
    "Bool": _bool,
    "IpAddress": _ip,
    "BinaryEquals": lambda e, a: e == a,
}
# Each negated operator and the positive one it negates.
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
}
_OPERATORS.update({negated: _OPERATORS[positive] for negated, positive in _NEGATED.items()})


# -- wildcards ------------------------------------------------------------------------------------


def _wildcard(pattern: str, value: str, *, fold: bool = False) -> bool:
    # IAM's wildcards: * any run of characters, ? exactly one; nothing else is special.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if fold else re.DOTALL) is not None


def _action_matches(pattern: str, action: str) -> bool:
    return _wildcard(pattern, action, fold=True)  # service prefixes and actions ignore case


def _resource_matches(pattern: str, resource: str) -> bool:
    return pattern == "*" or _arn_matches(pattern, resource)


def _arn_matches(pattern: str, arn: str) -> bool:
    # Each of an ARN's six colon-separated parts is matched on its own (a * stays in its part);
    # the resource part, the sixth, may itself hold colons.
    wanted, got = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) != 6 or len(got) != 6:
        return False  # what is not shaped as an ARN matches nothing
    return all(_wildcard(w, g) for w, g in zip(wanted, got, strict=True))


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
