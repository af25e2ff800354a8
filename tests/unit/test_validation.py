"""Payloads converted by msgspec against a model's rules, every bad key named in plain words."""

from __future__ import annotations

import copy
import json
import re
from typing import Annotated

import msgspec
import pytest

from bot.errors import InvalidPayload
from bot.validation import NOT_AN_OBJECT, Secret, convert, lax_whole_number


class Sample(msgspec.Struct, frozen=True):
    role: Annotated[
        str, msgspec.Meta(pattern=r"^arn:aws:iam::\d{12}:role/\S+$", description="a role ARN")
    ]
    name: Annotated[str, msgspec.Meta(min_length=2, max_length=5, description="2 to 5 letters")]
    count: Annotated[int, msgspec.Meta(ge=1, le=10, description="a number from 1 to 10")]
    tags: Annotated[list[str], msgspec.Meta(min_length=1, max_length=2)] = []


GOOD = {"role": "arn:aws:iam::123456789012:role/Approver", "name": "dave", "count": 3}


def problems(payload: object) -> tuple[tuple[str, str], ...]:
    with pytest.raises(InvalidPayload) as caught:
        convert(payload, Sample)
    return caught.value.problems


def test_a_good_payload_converts_and_unknown_keys_are_ignored() -> None:
    assert convert(GOOD | {"extra": 1}, Sample) == Sample(**GOOD)


def test_every_bad_key_is_named_in_the_models_order_not_only_the_first() -> None:
    assert problems({"count": "3", "name": "d", "tags": []}) == (
        ("role", "is missing; send a role ARN"),
        ("name", "is shorter than 2 characters; send 2 to 5 letters"),
        ("count", "is text, not a whole number; send a number from 1 to 10"),
        ("tags", "is an empty list"),
    )


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"role": "Approver"}, ("role", "is not in the expected form; send a role ARN")),
        ({"name": "davidson"}, ("name", "is longer than 5 characters; send 2 to 5 letters")),
        ({"count": 0}, ("count", "is below 1; send a number from 1 to 10")),
        ({"count": 11}, ("count", "is above 10; send a number from 1 to 10")),
        ({"count": 2.5}, ("count", "is a number, not a whole number; send a number from 1 to 10")),
        ({"tags": ["a", "b", "c"]}, ("tags", "has more than 2 items")),
        ({"name": None}, ("name", "is null, not text; send 2 to 5 letters")),
    ],
)
def test_each_rule_is_said_in_plain_words(
    changes: dict[str, object], problem: tuple[str, str]
) -> None:
    assert problems(GOOD | changes) == (problem,)


# -- what bot/payload.py's Fields did, now msgspec's (its cases, kept) ----------------------------


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", None, 7, ["name"]])
def test_what_is_not_a_json_object_is_refused_at_once(payload: object) -> None:
    with pytest.raises(InvalidPayload) as caught:
        convert(payload, Sample)
    assert caught.value.problems == (("", NOT_AN_OBJECT),)
    assert str(caught.value) == "the payload is not a JSON object"


def test_a_json_string_holding_an_object_is_read_as_that_object() -> None:
    assert convert(json.dumps(GOOD), Sample) == Sample(**GOOD)


class Texts(msgspec.Struct, frozen=True):
    required: str
    optional: str | None = None
    fallback: str = "fallback"
    short: Annotated[str, msgspec.Meta(max_length=4)] = ""


def text_problems(payload: dict[str, object]) -> tuple[tuple[str, str], ...]:
    with pytest.raises(InvalidPayload) as caught:
        convert(payload, Texts)
    return caught.value.problems


def test_text_is_never_coerced_and_defaults_only_when_absent() -> None:
    assert text_problems({"required": 5}) == (("required", "is a whole number, not text"),)
    assert text_problems({"required": "", "fallback": None}) == (("fallback", "is null, not text"),)
    assert text_problems({"required": "", "short": "x" * 5}) == (
        ("short", "is longer than 4 characters"),
    )
    assert text_problems({}) == (("required", "is missing"),)
    assert convert({"required": ""}, Texts) == Texts(required="", fallback="fallback")


def test_optional_text_is_none_when_absent_or_null_and_refuses_other_types() -> None:
    assert convert({"required": "x", "optional": None}, Texts).optional is None
    assert convert({"required": "x"}, Texts).optional is None
    assert convert({"required": "x", "optional": "set"}, Texts).optional == "set"
    assert text_problems({"required": "x", "optional": 1}) == (
        ("optional", "is a whole number, not text or null"),
    )


def test_a_before_rule_reads_a_key_first_and_says_what_is_wrong_in_its_own_words() -> None:
    def arn(value: object) -> object:
        if not isinstance(value, str) or not value.startswith("arn:"):
            raise ValueError("is not an ARN")
        return value

    with pytest.raises(InvalidPayload) as caught:
        convert(GOOD | {"role": "admin", "count": 0}, Sample, before={"role": arn})
    assert caught.value.problems == (
        ("role", "is not an ARN; send a role ARN"),
        ("count", "is below 1; send a number from 1 to 10"),
    )
    # An absent key is not passed to its rule: it is missing, said once.
    with pytest.raises(InvalidPayload) as absent:
        convert({"name": "dave", "count": 3}, Sample, before={"role": arn})
    assert absent.value.problems == (("role", "is missing; send a role ARN"),)


@pytest.mark.parametrize(
    ("given", "number"), [(3, 3), (3.0, 3), ("3", 3), ("3.00", 3), ("1e1", 10), ("-0", 0)]
)
def test_lax_whole_numbers_are_what_msgspecs_lax_mode_reads(given: object, number: int) -> None:
    assert lax_whole_number(given) == number


@pytest.mark.parametrize(
    ("given", "rule"),
    [
        (" 3\n", 'is text that does not read as a whole number (write 2 or "2")'),
        ("+3", 'is text that does not read as a whole number (write 2 or "2")'),
        ("03", 'is text that does not read as a whole number (write 2 or "2")'),
        ("1_0", 'is text that does not read as a whole number (write 2 or "2")'),
        ("3.5", 'is text that does not read as a whole number (write 2 or "2")'),
        ("three", 'is text that does not read as a whole number (write 2 or "2")'),
        ("", 'is text that does not read as a whole number (write 2 or "2")'),
        (3.5, "is 3.5, not a whole number"),
        (float("inf"), "is inf, not a whole number"),
        (float("nan"), "is nan, not a whole number"),
        (True, "is true or false, not a whole number"),
        (None, "is null, not a whole number"),
        ([3], "is a list, not a whole number"),
    ],
)
def test_lax_whole_numbers_refuse_the_rest_in_plain_words(given: object, rule: str) -> None:
    with pytest.raises(ValueError, match=re.escape(rule)):
        lax_whole_number(given)


class Detail(msgspec.Struct, frozen=True):
    status: str = msgspec.field(name="Status")


class Event(msgspec.Struct, frozen=True):
    detail: Detail


def test_a_nested_object_names_its_keys_under_its_own() -> None:
    with pytest.raises(InvalidPayload) as caught:
        convert({"detail": {}}, Event)
    assert caught.value.problems == (("detail.Status", "is missing"),)
    assert convert({"detail": {"Status": "Success"}}, Event).detail.status == "Success"


@pytest.mark.parametrize(
    ("payload", "problem"),
    [({}, "is missing"), ({"detail": 3}, "is a whole number, not a JSON object")],
)
def test_a_missing_or_malformed_nested_object_is_named_once(
    payload: dict[str, object], problem: str
) -> None:
    with pytest.raises(InvalidPayload) as caught:
        convert(payload, Event)
    assert caught.value.problems == (("detail", problem),)


def test_a_secret_never_shows_its_value() -> None:
    secret = Secret("AQCEtoken")
    shown = [repr(secret), str(secret), f"{secret}", repr([secret]), repr(copy.deepcopy(secret))]
    assert not any("AQCEtoken" in text for text in shown)
    assert secret.get_secret_value() == "AQCEtoken"
    assert secret == Secret("AQCEtoken") and secret != Secret("other") and secret != "AQCEtoken"
    assert len({secret, Secret("AQCEtoken")}) == 1
