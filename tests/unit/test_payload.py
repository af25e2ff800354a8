"""Reading a Lambda payload key by key: types, lax numbers, defaults, every problem named once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.errors import InvalidPayload
from bot.payload import MISSING, Fields, Secret


def problems(read: Any, payload: object) -> tuple[tuple[str, str], ...]:
    fields = Fields(payload)
    read(fields)
    with pytest.raises(InvalidPayload) as caught:
        fields.check()
    return caught.value.problems


def test_a_payload_that_reads_cleanly_passes_its_check() -> None:
    fields = Fields({"name": "dave", "count": "2", "ignored": {"any": "thing"}})
    assert (fields.text("name"), fields.whole_number("count", low=1, high=5)) == ("dave", 2)
    assert fields.ok("name", "count")
    fields.check()


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", None, 7, ["name"]])
def test_what_is_not_a_json_object_is_refused_at_once(payload: object) -> None:
    with pytest.raises(InvalidPayload) as caught:
        Fields(payload)
    assert caught.value.problems == (("", "the payload is not a JSON object"),)
    assert str(caught.value) == "the payload is not a JSON object"


def test_a_json_string_holding_an_object_is_read_as_that_object() -> None:
    assert Fields('{"name": "dave"}').text("name") == "dave"


def test_text_is_never_coerced_and_defaults_only_when_absent() -> None:
    payload = {"number": 5, "null": None, "empty": "", "long": "x" * 5}
    assert problems(lambda f: f.text("number", ""), payload) == (
        ("number", "is a number, not text"),
    )
    assert problems(lambda f: f.text("null", "fallback"), payload) == (
        ("null", "is null, not text"),
    )
    assert problems(lambda f: f.text("long", max_length=4), payload) == (
        ("long", "is 5 characters, more than 4"),
    )
    assert problems(lambda f: f.text("absent"), payload) == (("absent", MISSING),)
    fields = Fields(payload)
    assert (fields.text("empty"), fields.text("absent", "fallback")) == ("", "fallback")
    fields.check()


def test_a_rule_says_what_is_wrong_in_its_own_words() -> None:
    def arn(value: str) -> None:
        if not value.startswith("arn:"):
            raise ValueError("is not an ARN")

    assert problems(lambda f: f.text("role", rule=arn), {"role": "admin"}) == (
        ("role", "is not an ARN"),
    )


def test_optional_text_is_none_when_absent_or_null_and_refuses_other_types() -> None:
    fields = Fields({"null": None, "set": "x"})
    assert (fields.optional_text("null"), fields.optional_text("absent")) == (None, None)
    assert fields.optional_text("set") == "x"
    fields.check()
    assert problems(lambda f: f.optional_text("n"), {"n": 1}) == (("n", "is a number, not text"),)


@pytest.mark.parametrize(
    ("given", "number"),
    [
        (3, 3),
        (True, 1),
        (3.0, 3),
        ("3", 3),
        (" 3\n", 3),
        ("+3", 3),
        ("03", 3),
        ("3.00", 3),
        ("1_0", 10),
        ("-0", 0),
    ],
)
def test_whole_numbers_accept_what_pydantics_lax_mode_did(given: object, number: int) -> None:
    assert Fields({"n": given}).whole_number("n", low=-5, high=50) == number


@pytest.mark.parametrize(
    ("given", "rule"),
    [
        ("3.5", "is text that does not read as a whole number"),
        ("3.", "is text that does not read as a whole number"),
        ("1e1", "is text that does not read as a whole number"),
        ("three", "is text that does not read as a whole number"),
        ("", "is text that does not read as a whole number"),
        (3.5, "is 3.5, not a whole number"),
        (float("inf"), "is inf, not a whole number"),
        (float("nan"), "is nan, not a whole number"),
        (1e19, "is too large a number"),
        (None, "is null, not a whole number"),
        ([3], "is a list, not a whole number"),
        (0, "is 0, below 1"),
        (False, "is 0, below 1"),
        ("11", "is 11, above 10"),
    ],
)
def test_whole_numbers_refuse_the_rest_in_plain_words(given: object, rule: str) -> None:
    assert problems(lambda f: f.whole_number("n", low=1, high=10), {"n": given}) == (("n", rule),)


def test_every_problem_is_kept_in_reading_order_and_ok_tells_which_keys_failed() -> None:
    fields = Fields({"b": 1, "c": "x"})
    fields.text("a")
    fields.text("b")
    fields.text("c")
    fields.problem("c", "is 'x', not 'y'")
    assert not fields.ok("a") and not fields.ok("b", "c") and fields.ok("d")
    with pytest.raises(InvalidPayload) as caught:
        fields.check()
    assert [key for key, _ in caught.value.problems] == ["a", "b", "c"]
    assert str(caught.value) == ("a is missing; b is a number, not text; c is 'x', not 'y'")


def test_parsed_values_name_their_key_when_absent_or_refused() -> None:
    def pair(value: object) -> tuple[int, int]:
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError("must be two numbers")
        return (value[0], value[1])

    assert Fields({"p": [1, 2]}).parsed("p", pair, (0, 0)) == (1, 2)
    assert problems(lambda f: f.parsed("p", pair, (0, 0)), {"p": [1]}) == (
        ("p", "must be two numbers"),
    )
    assert problems(lambda f: f.parsed("p", pair, (0, 0)), {}) == (("p", MISSING),)


def test_a_nested_object_names_its_keys_under_its_own() -> None:
    assert problems(lambda f: f.within("detail").text("Status"), {"detail": {}}) == (
        ("detail.Status", MISSING),
    )
    assert Fields({"detail": {"Status": "Success"}}).within("detail").text("Status") == "Success"


@pytest.mark.parametrize(
    ("payload", "problem"), [({}, MISSING), ({"detail": 3}, "is not a JSON object")]
)
def test_a_missing_or_malformed_nested_object_is_named_once(
    payload: dict[str, Any], problem: str
) -> None:
    assert problems(lambda f: f.within("detail").text("Status"), payload) == (("detail", problem),)


def test_a_key_may_go_by_a_second_name() -> None:
    assert Fields({"execution_id": "e-1"}).text("ExecutionId", also="execution_id") == "e-1"
    assert (
        Fields({"ExecutionId": "e-2", "execution_id": "e-1"}).text(
            "ExecutionId", also="execution_id"
        )
        == "e-2"
    )


def test_a_secret_never_shows_its_value() -> None:
    secret = Secret("AQCEtoken")
    shown = [repr(secret), str(secret), f"{secret}", repr([secret]), repr(copy.deepcopy(secret))]
    assert not any("AQCEtoken" in text for text in shown)
    assert secret.get_secret_value() == "AQCEtoken"
    assert secret == Secret("AQCEtoken") and secret != Secret("other") and secret != "AQCEtoken"
    assert len({secret, Secret("AQCEtoken")}) == 1
