"""RunReader.finished: what the key reconciler asks SSM, and how far it reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from bot.errors import TransientError
from bot.gateways.runs import FINISHED_STATUSES, RunEnd, RunReader

DOC = "Signoff-AccessKey"
SINCE = datetime(2026, 11, 22, 9, 15, tzinfo=UTC)
ENDED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def execution(number: int, document: str = DOC) -> dict[str, object]:
    return {
        "AutomationExecutionId": f"{number:08d}-0000-4000-8000-000000000000",
        "DocumentName": document,
        "AutomationExecutionStatus": "Success",
        "ExecutionEndTime": ENDED,
    }


@pytest.fixture
def ssm() -> Iterator[tuple[RunReader, Stubber]]:
    client = boto3.client(
        "ssm", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield RunReader(client), stubber
        stubber.assert_no_pending_responses()


def test_it_asks_for_finished_runs_of_the_document_started_since_then(
    ssm: tuple[RunReader, Stubber],
) -> None:
    reader, stubber = ssm
    stubber.add_response(
        "describe_automation_executions",
        {"AutomationExecutionMetadataList": [execution(1), execution(2, f"{DOC}-Other")]},
        {
            "Filters": [
                {"Key": "DocumentNamePrefix", "Values": [DOC]},
                {"Key": "ExecutionStatus", "Values": sorted(FINISHED_STATUSES)},
                {"Key": "StartTimeAfter", "Values": ["2026-11-22T09:15:00Z"]},
            ],
            "MaxResults": 50,
        },
    )

    listed = reader.finished(DOC, started_after=SINCE, max_pages=3)

    # The prefix filter also matched a longer name; only the document itself counts.
    assert listed.runs == (RunEnd("00000001-0000-4000-8000-000000000000", ENDED),)
    assert not listed.truncated


def test_it_reads_no_more_than_the_page_limit_and_says_so(
    ssm: tuple[RunReader, Stubber],
) -> None:
    reader, stubber = ssm
    for page in range(2):
        stubber.add_response(
            "describe_automation_executions",
            {"AutomationExecutionMetadataList": [execution(page)], "NextToken": f"t{page + 1}"},
            {"Filters": ANY, "MaxResults": 50, **({"NextToken": "t1"} if page else {})},
        )

    listed = reader.finished(DOC, started_after=SINCE, max_pages=2)

    assert [r.execution_id[:8] for r in listed.runs] == ["00000000", "00000001"]
    assert listed.truncated  # a third page was there, and left for the next run


def test_ssm_throttling_is_a_transient_error(ssm: tuple[RunReader, Stubber]) -> None:
    reader, stubber = ssm
    stubber.add_client_error("describe_automation_executions", "ThrottlingException")
    with pytest.raises(TransientError):
        reader.finished(DOC, started_after=SINCE, max_pages=1)
