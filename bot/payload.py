"""Lambda payloads read key by key into typed values, each bad key named in one InvalidPayload.

Signoff's payloads are a few flat keys. Reading them here rather than with pydantic spares every
cold start pydantic's import and schema building (~100 ms, ~4 MB). Problems are said in plain
words ("is a number, not text", "is above 10"): Signoff.InvalidInput causes quote them to the
person who wrote the flow's input.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import TypeVar

from bot.errors import InvalidPayload

T = TypeVar("T")

MISSING = "is missing"
# pydantic's lax integers: a sign, digit groups joined by "_", an optional ".0" (once trimmed).
_WHOLE = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
_ABSENT = object()


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


class Fields:
    """One payload's keys, read one at a time; keys nobody reads are ignored.

    A read that fails records its problem and returns a placeholder ("", 0, …), so every key is
    read and every bad one named; `check()` then raises InvalidPayload before the object built
    from those values is handed out.
    """

    def __init__(self, payload: object) -> None:
        if isinstance(payload, str):
            # Lambda hands over a payload that is a JSON string as str; Powertools' parser, which
            # this replaces, read that string as JSON.
            with suppress(ValueError):
                payload = json.loads(payload)
        if not isinstance(payload, Mapping):
            raise InvalidPayload([("", "the payload is not a JSON object")])
        self._payload: Mapping[object, object] = payload
        self._prefix = ""
        self._problems: list[tuple[str, str]] = []
        self._bad: set[str] = set()

    def text(
        self,
        key: str,
        default: str | None = None,
        *,
        max_length: int | None = None,
        rule: Callable[[str], None] | None = None,
        also: str | None = None,
    ) -> str:
        """A string (5 is not "5"); `default` when absent, required if None.

        `rule` raises ValueError saying what is wrong ("is not an IAM role ARN"); `also` is a
        second name the key may go by.
        """
        value = self._get(key, also)
        if value is _ABSENT:
            if default is None:
                self.problem(key, MISSING)
            return default or ""
        if not isinstance(value, str):
            self.problem(key, f"is {kind(value)}, not text")
            return ""
        if max_length is not None and len(value) > max_length:
            self.problem(key, f"is {len(value)} characters, more than {max_length}")
            return ""
        if rule is not None:
            try:
                rule(value)
            except ValueError as wrong:
                self.problem(key, str(wrong))
                return ""
        return value

    def optional_text(self, key: str, *, also: str | None = None) -> str | None:
        """A string, or None when absent or null."""
        value = self._get(key, also)
        if value is _ABSENT or value is None:
            return None
        if isinstance(value, str):
            return value
        self.problem(key, f"is {kind(value)}, not text")
        return None

    def whole_number(self, key: str, *, low: int, high: int) -> int:
        """A required int from `low` to `high`; also true, 2.0, "2", " 2 " and "2.0"."""
        value = self._get(key)
        if value is _ABSENT:
            self.problem(key, MISSING)
            return 0
        try:
            number = _whole_number(value)
        except ValueError as wrong:
            self.problem(key, str(wrong))
            return 0
        if number < low:
            self.problem(key, f"is {number}, below {low}")
        elif number > high:
            self.problem(key, f"is {number}, above {high}")
        return number

    def parsed(self, key: str, parse: Callable[[object], T], placeholder: T) -> T:
        """A required value `parse` turns into T, raising ValueError to say what is wrong."""
        value = self._get(key)
        if value is _ABSENT:
            self.problem(key, MISSING)
            return placeholder
        try:
            return parse(value)
        except ValueError as wrong:
            self.problem(key, str(wrong))
            return placeholder

    def within(self, key: str) -> Fields:
        """A nested object's keys, named `key.Inner` in problems; required."""
        value = self._get(key)
        nested = Fields(value if isinstance(value, Mapping) else {})
        if isinstance(value, Mapping):
            nested._prefix = f"{self._prefix}{key}."
            nested._problems = self._problems
        else:
            # Named once here; reads from the stand-in object record nothing that counts.
            self.problem(key, MISSING if value is _ABSENT else "is not a JSON object")
        return nested

    def problem(self, key: str, what: str) -> None:
        """Record that `key` is bad, and how ("is 4, beyond levels (3)")."""
        self._bad.add(key)
        self._problems.append((f"{self._prefix}{key}", what))

    def ok(self, *keys: str) -> bool:
        """Whether every one of these keys was read without a problem."""
        return self._bad.isdisjoint(keys)

    def check(self) -> None:
        """Raise InvalidPayload naming every problem, in the order the keys were read."""
        if self._problems:
            raise InvalidPayload(self._problems)

    def _get(self, key: str, also: str | None = None) -> object:
        if key in self._payload:
            return self._payload[key]
        if also is not None and also in self._payload:
            return self._payload[also]
        return _ABSENT


def _whole_number(value: object) -> int:
    """A lax int, as pydantic read one: what JSON may carry for a whole number, or ValueError."""
    if isinstance(value, int):  # true and false too: 1 and 0
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(f"is {value}, not a whole number")
        if not -(2.0**63) < value < 2.0**63:
            raise ValueError("is too large a number")
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        # ValueError: more digits than Python's int() will read.
        with suppress(ValueError):
            if _WHOLE.fullmatch(text):
                return int(text.partition(".")[0])
        raise ValueError("is text that does not read as a whole number")
    raise ValueError(f"is {kind(value)}, not a whole number")
