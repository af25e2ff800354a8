"""What the access-key runbook sends the issuer, as the issue_access_key Lambda reads it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bot.access_key_models import IssueKeyPayload
from bot.errors import InvalidPayload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_the_runbooks_payload_is_read_and_unknown_keys_ignored() -> None:
    event = json.loads((FIXTURES / "bench_issue_access_key.json").read_text())
    payload = IssueKeyPayload.from_event(event | {"region": "us-east-1"})
    assert payload == IssueKeyPayload(
        execution_id="{{execution_id}}",
        iam_user="dave",
        requester="U0DAVE",
        reason="cold start benchmark",
    )
    # What the idempotency layer hashes: the execution id is the key.
    assert dataclasses.asdict(payload)["execution_id"] == "{{execution_id}}"


def test_requester_and_reason_default_to_empty() -> None:
    payload = IssueKeyPayload.from_event({"execution_id": "e-1", "iam_user": "dave"})
    assert (payload.requester, payload.reason) == ("", "")


def test_every_missing_and_malformed_key_is_named_in_plain_words() -> None:
    with pytest.raises(InvalidPayload) as caught:
        IssueKeyPayload.from_event({"iam_user": 7, "requester": "U0DAVE", "reason": None})
    assert caught.value.problems == (
        (
            "execution_id",
            "is missing; send the runbook's execution id (`{{ automation:EXECUTION_ID }}`)",
        ),
        (
            "iam_user",
            "is a whole number, not text; send the IAM user's name (`{{ IamUser }}`), as text",
        ),
        ("reason", "is null, not text; send text, or leave the key out"),
    )


@pytest.mark.parametrize("key", ["execution_id", "iam_user"])
def test_an_empty_execution_id_or_user_is_refused(key: str) -> None:
    event = {"execution_id": "e-1", "iam_user": "dave"} | {key: ""}
    with pytest.raises(InvalidPayload) as caught:
        IssueKeyPayload.from_event(event)
    assert [(k, what.split(";")[0]) for k, what in caught.value.problems] == [(key, "is empty")]


@pytest.mark.parametrize("event", [["execution_id"], "not json", 7])
def test_a_payload_that_is_not_an_object_is_refused(event: object) -> None:
    with pytest.raises(InvalidPayload) as caught:
        IssueKeyPayload.from_event(event)
    assert caught.value.problems == (("", "the payload is not a JSON object"),)


def test_a_payload_sent_as_a_json_string_is_read() -> None:
    payload = IssueKeyPayload.from_event(json.dumps({"execution_id": "e-1", "iam_user": "dave"}))
    assert payload == IssueKeyPayload(execution_id="e-1", iam_user="dave")
