"""Payloads converted by msgspec against a model's rules, every bad key named in plain words."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from bot.errors import InvalidPayload
from bot.validation import convert


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
