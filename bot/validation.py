"""Lambda payloads checked by msgspec against a model's annotations, every problem in plain words.

The rules live on the model as `Annotated[..., msgspec.Meta(...)]` (pattern, min_length, ge, …)
and its `description` says what the key must hold. msgspec stops at the first problem, so when
the whole payload fails each key is converted on its own: a caller fixing a payload learns every
bad key at once, each as "<key> <what is wrong>; send <what it must hold>".
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from contextlib import suppress
from typing import Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

import msgspec

from bot.errors import InvalidPayload

T = TypeVar("T")

NOT_AN_OBJECT = "the payload is not a JSON object"
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


def convert(payload: object, model: type[T]) -> T:
    """The payload as `model` (a Struct or dataclass); InvalidPayload names every bad key.

    Strict: 5 is not "5". Keys the model does not name are ignored.
    """
    if isinstance(payload, str):
        # Lambda hands over a payload that is a JSON string as str.
        with suppress(ValueError):
            payload = json.loads(payload)
    if not isinstance(payload, Mapping):
        raise InvalidPayload([("", NOT_AN_OBJECT)])
    try:
        return msgspec.convert(payload, model, strict=True)
    except msgspec.ValidationError as first:
        problems = list(_each_problem(payload, model)) or [("", plain(str(first)))]
        raise InvalidPayload(problems) from None


def plain(message: str, description: str = "") -> str:
    """msgspec's "Expected `str` of length >= 1" as "is empty; send <description>"."""
    return _say(_why(message.split(" - at `", 1)[0]), description)


def _say(why: str, description: str) -> str:
    return f"{why}; send {description}" if description else why


def _why(message: str) -> str:
    if kind := _WRONG_KIND.match(message):
        got, want = kind["got"], kind["want"]
        return f"is {_KINDS.get(got, got)}, not {_KINDS.get(want, want)}"
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


def _each_problem(payload: Mapping[Any, Any], model: type[Any]) -> list[tuple[str, str]]:
    """Each field converted alone, in the model's order: (key, problem) for every bad one."""
    hints = get_type_hints(model, include_extras=True)
    problems: list[tuple[str, str]] = []
    for name, required in _fields(model):
        hint = hints[name]
        description = _description(hint)
        if name not in payload:
            if required:
                problems.append((name, _say("is missing", description)))
            continue
        try:
            msgspec.convert(payload[name], hint, strict=True)
        except msgspec.ValidationError as wrong:
            problems.append((name, plain(str(wrong), description)))
    return problems


def _fields(model: type[Any]) -> list[tuple[str, bool]]:
    if dataclasses.is_dataclass(model):
        return [
            (f.name, f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
            for f in dataclasses.fields(model)
        ]
    return [(f.name, f.required) for f in msgspec.structs.fields(model)]


def _description(hint: object) -> str:
    if get_origin(hint) is not Annotated:
        return ""
    for extra in get_args(hint)[1:]:
        if isinstance(extra, msgspec.Meta) and extra.description:
            return extra.description
    return ""
