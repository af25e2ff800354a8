"""Lambda payloads checked by msgspec against a model's annotations, every problem in plain words.

The rules live on the model as `Annotated[..., msgspec.Meta(...)]` (pattern, min_length, ge, …)
and its `description` says what the key must hold. msgspec stops at the first problem, so when
the whole payload fails each key is converted on its own: a caller fixing a payload learns every
bad key at once, each as "<key> <what is wrong>; send <what it must hold>". A key that comes in
more than one shape (approvers as a list or as text) is first read by a `before` function that
raises ValueError in the same plain words.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

import msgspec

from bot.errors import InvalidPayload

T = TypeVar("T")
Before = Callable[[object], object]

NOT_AN_OBJECT = "the payload is not a JSON object"
MISSING = "is missing"
# msgspec's names for JSON's kinds of value, as a person who wrote the payload would say them.
_KINDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "null": "null",
    "object": "a JSON object",
    "array": "a list",
}
_WRONG_KIND = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`")
_BOUND = re.compile(r"^Expected `(?P<want>[^`]+)` (?:of length )?(?P<op>[<>]=?) (?P<n>-?\d+)")
_PATTERN = re.compile(r"^Expected `str` matching regex")


class Secret:
    """Text that never shows itself: repr() and str() print asterisks, never the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def kind(value: object) -> str:
    """What JSON value this is, as a person who wrote it would say: "a number", "a list"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    return "a JSON object" if isinstance(value, Mapping) else "not a JSON value"


def as_mapping(payload: object) -> Mapping[Any, Any]:
    """The payload as a JSON object; InvalidPayload when it is not one."""
    if isinstance(payload, str):
        # Lambda hands over a payload that is a JSON string as str.
        with suppress(ValueError):
            payload = json.loads(payload)
    if not isinstance(payload, Mapping):
        raise InvalidPayload([("", NOT_AN_OBJECT)])
    return payload


def convert(payload: object, model: type[T], *, before: Mapping[str, Before] | None = None) -> T:
    """The payload as `model` (a Struct or dataclass); InvalidPayload names every bad key.

    Strict: 5 is not "5". Keys the model does not name are ignored. `before` maps a key to a
    function that reads its raw value first (absent keys are not passed to it).
    """
    given = dict(as_mapping(payload))
    refused: dict[str, str] = {}
    for name, read in (before or {}).items():
        if name in given:
            try:
                given[name] = read(given[name])
            except ValueError as wrong:
                refused[name] = str(wrong)
    if not refused:
        try:
            return msgspec.convert(given, model, strict=True)
        except msgspec.ValidationError as first:
            problems = _each_problem(given, model, {}, "") or [("", plain(str(first)))]
            raise InvalidPayload(problems) from None
    raise InvalidPayload(_each_problem(given, model, refused, ""))


def plain(message: str, description: str = "") -> str:
    """msgspec's "Expected `str` of length >= 1" as "is empty; send <description>"."""
    return _say(_why(message.split(" - at `", 1)[0]), description)


def lax_whole_number(value: object) -> int:
    """A whole number as msgspec's lax mode reads one (2, 2.0, "2", "2.0", "1e1"), or ValueError.

    The choice docs/decisions/ records ("numbers as text"): nothing else is a number (" 2 ",
    "+2", "02", true), and the refusal says how to write one.
    """
    try:
        return msgspec.convert(value, int, strict=False)
    except msgspec.ValidationError:
        if isinstance(value, str):
            raise ValueError(
                'is text that does not read as a whole number (write 2 or "2")'
            ) from None
        if isinstance(value, float):
            raise ValueError(f"is {value}, not a whole number") from None
        raise ValueError(f"is {kind(value)}, not a whole number") from None


def _say(why: str, description: str) -> str:
    return f"{why}; send {description}" if description else why


def _why(message: str) -> str:
    if kind := _WRONG_KIND.match(message):
        got, want = kind["got"], kind["want"]
        wanted = " or ".join(_KINDS.get(one, one) for one in want.split(" | "))
        return f"is {_KINDS.get(got, got)}, not {wanted}"
    if bound := _BOUND.match(message):
        n, op, want = int(bound["n"]), bound["op"], bound["want"]
        if want == "str":
            if op == ">=":
                return "is empty" if n == 1 else f"is shorter than {n} characters"
            return f"is longer than {n} characters"
        if want == "array":
            if op == ">=":
                return "is an empty list" if n == 1 else f"has fewer than {n} items"
            return f"has more than {n} items"
        return f"is below {n}" if op.startswith(">") else f"is above {n}"
    if _PATTERN.match(message):
        return "is not in the expected form"
    return "is not valid: " + message[:1].lower() + message[1:]


def _each_problem(
    payload: Mapping[Any, Any], model: type[Any], refused: Mapping[str, str], prefix: str
) -> list[tuple[str, str]]:
    """Each field converted alone, in the model's order: (key, problem) for every bad one.

    A field that is itself a Struct is checked key by key too, its keys named `outer.Inner`.
    """
    hints = get_type_hints(model, include_extras=True)
    problems: list[tuple[str, str]] = []
    for attribute, key, required in _fields(model):
        hint = hints[attribute]
        description = _description(hint)
        name = prefix + key
        if key in refused:
            problems.append((name, _say(refused[key], description)))
            continue
        if key not in payload:
            if required:
                problems.append((name, _say(MISSING, description)))
            continue
        value = payload[key]
        if _is_struct(hint) and isinstance(value, Mapping):
            problems.extend(_each_problem(value, hint, {}, f"{name}."))
            continue
        try:
            msgspec.convert(value, hint, strict=True)
        except msgspec.ValidationError as wrong:
            problems.append((name, plain(str(wrong), description)))
    return problems


def _is_struct(hint: object) -> bool:
    return isinstance(hint, type) and issubclass(hint, msgspec.Struct)


def _fields(model: type[Any]) -> list[tuple[str, str, bool]]:
    """(attribute, key in the payload, required) for each field, in the model's order."""
    if dataclasses.is_dataclass(model):
        return [
            (
                f.name,
                f.name,
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(model)
        ]
    return [(f.name, f.encode_name, f.required) for f in msgspec.structs.fields(model)]


def _description(hint: object) -> str:
    if get_origin(hint) is not Annotated:
        return ""
    for extra in get_args(hint)[1:]:
        if isinstance(extra, msgspec.Meta) and extra.description:
            return extra.description
    return ""
