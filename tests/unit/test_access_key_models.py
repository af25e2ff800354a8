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


def test_missing_and_malformed_keys_are_named() -> None:
    with pytest.raises(InvalidPayload) as caught:
        IssueKeyPayload.from_event({"iam_user": 7, "reason": None})
    assert caught.value.problems == (
        ("execution_id", "is missing"),
        ("iam_user", "is not valid (input should be a valid string)"),
        ("reason", "is not valid (input should be a valid string)"),
    )
