"""Automation runbooks (schemaVersion 0.3): parameters, steps and `{{ }}` interpolation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.aws.errors import (
    AutomationDefinitionNotFound,
    InvalidAutomationExecutionParameters,
)

SCHEMA_VERSION = "0.3"
PARAMETER_TYPES = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")

# `{{ Name }}` and `{{Name}}`; names may carry a namespace (`global:REGION`) or a step output
# (`Step.Output`).
_REFERENCE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    type: str
    has_default: bool
    default: Any
    allowed_values: tuple[str, ...] | None
    allowed_pattern: str | None


@dataclass(frozen=True)
class OutputSpec:
    """One `outputs:` entry of an `aws:executeAwsApi` step."""

    name: str
    selector: str
    type: str


@dataclass(frozen=True)
class StepSpec:
    name: str
    action: str
    inputs: Mapping[str, Any]
    on_failure: str
    next_step: str | None
    is_end: bool
    is_critical: bool
    max_attempts: int
    timeout_seconds: int | None
    outputs: tuple[OutputSpec, ...]


@dataclass(frozen=True)
class Runbook:
    name: str
    version: str
    parameters: Mapping[str, ParameterSpec]
    steps: tuple[StepSpec, ...]
    outputs: tuple[str, ...]

    def index_of(self, step_name: str) -> int:
        for index, step in enumerate(self.steps):
            if step.name == step_name:
                return index
        raise KeyError(step_name)


@dataclass(frozen=True)
class BoundParameters:
    """Parameters after validation: typed values for interpolation, `{str: [str]}` for the API."""

    values: Mapping[str, Any]
    wire: Mapping[str, list[str]]


class UnresolvedVariable(Exception):
    """A `{{ name }}` that names neither a parameter, a step output nor a system variable."""


def parse_runbook(name: str, version: str, content: Mapping[str, Any]) -> Runbook:
    """Read a document's content (already parsed from YAML/JSON by moto's create_document)."""
    if str(content.get("schemaVersion")) != SCHEMA_VERSION:
        raise AutomationDefinitionNotFound(
            f"Document {name} is not an Automation runbook (schemaVersion {SCHEMA_VERSION})."
        )
    raw_steps = content.get("mainSteps") or []
    if not isinstance(raw_steps, list) or not raw_steps:
        raise AutomationDefinitionNotFound(f"Document {name} has no mainSteps.")
    steps = tuple(_parse_step(raw) for raw in raw_steps)
    names = [step.name for step in steps]
    for step in steps:
        for target in (step.next_step, _jump_target(step.on_failure)):
            if target is not None and target not in names:
                raise AutomationDefinitionNotFound(
                    f"Step {step.name} of document {name} refers to unknown step {target}."
                )
    raw_parameters = content.get("parameters") or {}
    parameters = {key: _parse_parameter(key, spec or {}) for key, spec in raw_parameters.items()}
    outputs = tuple(str(output) for output in content.get("outputs") or ())
    return Runbook(name, version, parameters, steps, outputs)


def _parse_step(raw: Mapping[str, Any]) -> StepSpec:
    timeout = raw.get("timeoutSeconds")
    return StepSpec(
        name=str(raw["name"]),
        action=str(raw["action"]),
        inputs=dict(raw.get("inputs") or {}),
        on_failure=str(raw.get("onFailure", "Abort")),
        next_step=str(raw["nextStep"]) if raw.get("nextStep") else None,
        is_end=_truthy(raw.get("isEnd", False)),
        is_critical=_truthy(raw.get("isCritical", True)),
        max_attempts=max(1, int(raw.get("maxAttempts", 1))),
        timeout_seconds=int(timeout) if timeout is not None else None,
        outputs=tuple(
            OutputSpec(str(o["Name"]), str(o["Selector"]), str(o.get("Type", "String")))
            for o in raw.get("outputs") or ()
        ),
    )


def _parse_parameter(name: str, spec: Mapping[str, Any]) -> ParameterSpec:
    allowed = spec.get("allowedValues")
    return ParameterSpec(
        name=name,
        type=str(spec.get("type", "String")),
        has_default="default" in spec,
        default=spec.get("default"),
        allowed_values=tuple(str(v) for v in allowed) if allowed else None,
        allowed_pattern=spec.get("allowedPattern"),
    )


def _jump_target(on_failure: str) -> str | None:
    return on_failure.removeprefix("step:") if on_failure.startswith("step:") else None


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def bind_parameters(runbook: Runbook, given: Mapping[str, list[str]] | None) -> BoundParameters:
    """Validate `StartAutomationExecution` parameters against the runbook, apply defaults.

    AWS rejects unknown names, missing required values and values of the wrong type with
    `InvalidAutomationExecutionParametersException` before any step runs.
    """
    given = given or {}
    unknown = sorted(set(given) - set(runbook.parameters))
    if unknown:
        raise InvalidAutomationExecutionParameters(
            f"Parameter(s) {', '.join(unknown)} not defined in the runbook {runbook.name}."
        )
    missing = sorted(
        name
        for name, spec in runbook.parameters.items()
        if name not in given and not spec.has_default
    )
    if missing:
        raise InvalidAutomationExecutionParameters(
            f"The following required parameter(s) were not provided: {', '.join(missing)}."
        )
    values: dict[str, Any] = {}
    wire: dict[str, list[str]] = {}
    for name, spec in runbook.parameters.items():
        if name in given:
            raw = given[name]
            if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
                raise InvalidAutomationExecutionParameters(
                    f"Parameter {name} must be a list of strings."
                )
            values[name] = _typed(spec, raw)
            wire[name] = list(raw)
        else:
            values[name] = _typed_default(spec)
            wire[name] = _to_wire(values[name])
        _check_allowed(spec, wire[name])
    return BoundParameters(values, wire)


def _typed(spec: ParameterSpec, raw: list[str]) -> Any:
    kind = spec.type
    if kind == "StringList":
        return list(raw)
    if kind == "MapList":
        return [_json_object(spec.name, item) for item in raw]
    if len(raw) != 1:
        raise InvalidAutomationExecutionParameters(
            f"Parameter {spec.name} of type {kind} takes exactly one value, got {len(raw)}."
        )
    (value,) = raw
    if kind == "Integer":
        try:
            return int(value)
        except ValueError:
            raise InvalidAutomationExecutionParameters(
                f"Parameter {spec.name} of type Integer got a non-integer value: {value!r}."
            ) from None
    if kind == "Boolean":
        if value.lower() not in ("true", "false"):
            raise InvalidAutomationExecutionParameters(
                f"Parameter {spec.name} of type Boolean must be true or false, got {value!r}."
            )
        return value.lower() == "true"
    if kind == "StringMap":
        return _json_object(spec.name, value)
    # String, and the AWS resource types (AWS::EC2::Instance::Id ...) that behave like it.
    return value


def _typed_default(spec: ParameterSpec) -> Any:
    default = spec.default
    if spec.type == "StringList":
        return [str(v) for v in default] if isinstance(default, list) else [str(default)]
    if spec.type == "MapList":
        return list(default or [])
    if spec.type == "Integer":
        return int(default)
    if spec.type == "Boolean":
        return _truthy(default) if isinstance(default, str) else bool(default)
    if spec.type == "StringMap":
        return dict(default or {})
    return "" if default is None else str(default)


def _to_wire(value: Any) -> list[str]:
    if isinstance(value, list):
        return [item if isinstance(item, str) else json.dumps(item) for item in value]
    return [to_text(value)]


def _json_object(name: str, text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidAutomationExecutionParameters(
            f"Parameter {name} expects JSON objects, got {text!r}."
        )
    return parsed


def _check_allowed(spec: ParameterSpec, values: list[str]) -> None:
    for value in values:
        if spec.allowed_values is not None and value not in spec.allowed_values:
            raise InvalidAutomationExecutionParameters(
                f"Parameter {spec.name} value {value!r} is not one of the allowed values."
            )
        if spec.allowed_pattern and not re.fullmatch(spec.allowed_pattern, value):
            raise InvalidAutomationExecutionParameters(
                f"Parameter {spec.name} value {value!r} does not match the allowed pattern."
            )


def to_text(value: Any) -> str:
    """A variable as it appears inside a larger string (and in a step's string `Inputs`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def interpolate(value: Any, variables: Mapping[str, Any]) -> Any:
    """Resolve `{{ name }}` references in a step's inputs.

    A value that is exactly one reference keeps the variable's type, so `Approvers:
    '{{ Approvers }}'` yields the StringList itself; references inside longer text are
    rendered as text.
    """
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), variables)
        return _REFERENCE.sub(lambda m: to_text(_lookup(m.group(1), variables)), value)
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    return value


def _lookup(name: str, variables: Mapping[str, Any]) -> Any:
    if name not in variables:
        raise UnresolvedVariable(f"Variable {{{{ {name} }}}} cannot be resolved.")
    return variables[name]
