"""Read infra/template.yaml as CloudFormation would: short tags, parameters, conditions, intrinsics.

The sandbox provisions its world from the real template, and the infra tests read state machine
definitions and runbooks from it; both go through this module so there is one reading of it.

Resolution is deliberately partial: Ref/GetAtt of a resource resolve to what the caller passes in
`refs` (the sandbox passes real names and ARNs), else to a readable stand-in ("ApprovalsTable",
"StartApprovalFunction.Arn") that tests can assert on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml's parser reads the template ten times faster; every test world reads it
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # a PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "infra" / "template.yaml"

PSEUDO_PARAMETERS: dict[str, str] = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "AWS::StackName": "signoff",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/signoff/0",
    "AWS::URLSuffix": "amazonaws.com",
}

_TAGS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!Join": "Fn::Join",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!FindInMap": "Fn::FindInMap",
    "!Base64": "Fn::Base64",
    "!ImportValue": "Fn::ImportValue",
    "!GetAZs": "Fn::GetAZs",
    "!Cidr": "Fn::Cidr",
    "!ToJsonString": "Fn::ToJsonString",
}

_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]+)\}")


class _NoValue:
    """AWS::NoValue: removes the list item or mapping key it is the value of."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class CloudFormationLoader(_SafeLoader):
    """A YAML loader that turns CloudFormation's short tags into their long JSON form."""


def _construct(function: str) -> Any:
    def construct(loader: _SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if function == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {function: value}

    return construct


for _tag, _function in _TAGS.items():
    CloudFormationLoader.add_constructor(_tag, _construct(_function))


def load_template(path: Path | str = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain data, short tags expanded ({"Ref": ...}, {"Fn::Sub": ...})."""
    with open(path, encoding="utf-8") as handle:
        loaded = yaml.load(handle, Loader=CloudFormationLoader)  # noqa: S506 (a SafeLoader)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return loaded


def parameter_values(
    template: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Every parameter's value: the override, else its Default (lists for CommaDelimitedList)."""
    values: dict[str, Any] = {}
    for name, spec in template.get("Parameters", {}).items():
        raw = (overrides or {}).get(name, spec.get("Default"))
        if raw is None:
            raw = _EXAMPLE_VALUES.get(name, "")
        if spec.get("Type") == "CommaDelimitedList" and isinstance(raw, str):
            raw = raw.split(",")
        values[name] = [str(v) for v in raw] if isinstance(raw, list) else str(raw)
    return values


# Parameters without a default get a plausible value so the template resolves in tests.
_EXAMPLE_VALUES = {"DefaultChannel": "C0DEFAULT", "SlackTeamId": "T0EXAMPLE"}


@dataclass
class Resolver:
    """Evaluates conditions and intrinsic functions for one set of parameter values."""

    template: Mapping[str, Any]
    parameters: Mapping[str, Any]
    refs: Mapping[str, Any] = field(default_factory=dict)
    pseudo: Mapping[str, str] = field(default_factory=lambda: dict(PSEUDO_PARAMETERS))
    _conditions: dict[str, bool] = field(default_factory=dict, init=False)

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            spec = self.template.get("Conditions", {})[name]
            self._conditions[name] = bool(self._evaluate(spec))
        return self._conditions[name]

    def resource_exists(self, logical_id: str) -> bool:
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def resolve(self, node: Any) -> Any:
        """Resolve every intrinsic in `node`; AWS::NoValue entries are dropped."""
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, value),) = node.items()
                if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                    return self._intrinsic(key, value)
            resolved = {k: self.resolve(v) for k, v in node.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        return node

    # -- intrinsics -----------------------------------------------------------------------------

    def _intrinsic(self, function: str, value: Any) -> Any:
        if function == "Ref":
            return self._ref(str(value))
        if function == "Fn::GetAtt":
            target, attribute = value if isinstance(value, list) else str(value).split(".", 1)
            return self.refs.get(f"{target}.{attribute}", f"{target}.{attribute}")
        if function == "Fn::Sub":
            return self._sub(value)
        if function == "Fn::If":
            name, when_true, when_false = value
            return self.resolve(when_true if self.condition(name) else when_false)
        if function == "Fn::Join":
            separator, items = value
            return str(separator).join(str(i) for i in self.resolve(items))
        if function == "Fn::Select":
            index, items = value
            return self.resolve(items)[int(self.resolve(index))]
        if function == "Fn::Split":
            separator, text = value
            return str(self.resolve(text)).split(separator)
        if function in {"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"}:
            return self._evaluate({function: value})
        raise NotImplementedError(f"{function} is not supported by sandbox.template")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.refs.get(name, name)

    def _sub(self, value: Any) -> str:
        if isinstance(value, list):
            text, variables = value
            local = {k: self.resolve(v) for k, v in variables.items()}
        else:
            text, local = value, {}

        def substitute(match: re.Match[str]) -> str:
            if match.group(1):  # ${!Literal} stays ${Literal}
                return "${" + match.group(2) + "}"
            name = match.group(2)
            if name in local:
                return str(local[name])
            if "." in name and not name.startswith("AWS::"):
                target, attribute = name.split(".", 1)
                return str(self._intrinsic("Fn::GetAtt", [target, attribute]))
            resolved = self._ref(name)
            return ",".join(resolved) if isinstance(resolved, list) else str(resolved)

        return _SUB_VARIABLE.sub(substitute, str(text))

    def _evaluate(self, spec: Any) -> Any:
        if not isinstance(spec, dict) or len(spec) != 1:
            return self.resolve(spec)
        ((function, value),) = spec.items()
        if function == "Condition":
            return self.condition(str(value))
        if function == "Fn::Equals":
            left, right = (self._evaluate(v) for v in value)
            return _scalar(left) == _scalar(right)
        if function == "Fn::Not":
            return not self._evaluate(value[0])
        if function == "Fn::And":
            return all(self._evaluate(v) for v in value)
        if function == "Fn::Or":
            return any(self._evaluate(v) for v in value)
        return self.resolve(spec)


def _scalar(value: Any) -> Any:
    # CloudFormation compares strings: Ref of a Number parameter is "3", and YAML reads 3 as int.
    return value if isinstance(value, list) else str(value)


def resolver(
    template: Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
    refs: Mapping[str, Any] | None = None,
    pseudo: Mapping[str, str] | None = None,
) -> Resolver:
    """A Resolver for the template with these parameter overrides and resource values."""
    return Resolver(
        template=template,
        parameters=parameter_values(template, parameters),
        refs=dict(refs or {}),
        pseudo={**PSEUDO_PARAMETERS, **(pseudo or {})},
    )


def state_machine_definition(
    template: Mapping[str, Any],
    logical_id: str,
    substitutions: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    refs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The state machine's definition as Step Functions receives it, parsed from JSON.

    Conditions are evaluated with `parameters`; each DefinitionSubstitutions entry takes its
    value from `substitutions`, else from resolving the template's own value with `refs`.
    """
    resolve = resolver(template, parameters, refs)
    properties = template["Resources"][logical_id]["Properties"]
    values = {
        name: str(resolve.resolve(spec))
        for name, spec in properties.get("DefinitionSubstitutions", {}).items()
    }
    values.update(substitutions or {})
    if "Definition" in properties:
        text = json.dumps(resolve.resolve(properties["Definition"]))
    else:
        text = str(resolve.resolve(properties["DefinitionString"]))
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def ssm_document_content(
    template: Mapping[str, Any],
    logical_id: str,
    parameters: Mapping[str, Any] | None = None,
    refs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An SSM document's Content with its intrinsics resolved (default values, function ARNs)."""
    content = template["Resources"][logical_id]["Properties"]["Content"]
    resolved: dict[str, Any] = resolver(template, parameters, refs).resolve(content)
    return resolved


def functions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every AWS::Serverless::Function by logical id, with Globals.Function merged in."""
    defaults = template.get("Globals", {}).get("Function", {})
    found: dict[str, dict[str, Any]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **resource.get("Properties", {})}
        variables = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **resource.get("Properties", {}).get("Environment", {}).get("Variables", {}),
        }
        properties["Environment"] = {"Variables": variables}
        found[logical_id] = properties
    return found


def function_environment(
    template: Mapping[str, Any],
    logical_id: str,
    parameters: Mapping[str, Any] | None = None,
    refs: Mapping[str, Any] | None = None,
    pseudo: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A function's environment variables (Globals merged) with intrinsics resolved."""
    variables = functions(template)[logical_id]["Environment"]["Variables"]
    resolved = resolver(template, parameters, refs, pseudo).resolve(variables)
    return {name: str(value) for name, value in resolved.items()}
