"""The trimmed AWS models `make package` writes hold every call the code makes, and botocore
reads them through its documented AWS_DATA_PATH."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from botocore import xform_name

from bot.gateways.session import LambdaSession


@pytest.fixture(scope="module")
def generated(models: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make package` puts in the artifact's aws_models/, written as it writes it."""
    out = tmp_path_factory.mktemp("aws_models")
    assert models.main(["--out", str(out)]) == 0
    return out


def shipped(models_dir: Path) -> dict[str, list[str]]:
    return dict(json.loads((models_dir / "operations.json").read_text()))


def test_every_operation_the_code_calls_is_in_the_generated_models(
    models: ModuleType, generated: Path
) -> None:
    assert models.missing_operations(generated) == {}


def test_a_call_added_to_the_code_is_reported_missing(
    models: ModuleType, generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "bot"
    source.mkdir()
    (source / "new.py").write_text(
        "def tag(ssm):\n"
        "    ssm.add_tags_to_resource(ResourceType='Document', ResourceId='x', Tags=[])\n"
        "    ssm.get_paginator('describe_automation_executions')\n"
    )
    monkeypatch.setattr(models, "ROOT", tmp_path)
    monkeypatch.setattr(models, "SOURCES", ("bot",))

    assert models.missing_operations(generated) == {"ssm": ["AddTagsToResource"]}


@pytest.fixture
def reads_generated(generated: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # As the template's Globals set it for every function.
    monkeypatch.setenv("AWS_DATA_PATH", str(generated))
    return generated


def test_a_client_reading_the_generated_models_has_exactly_their_operations(
    reads_generated: Path,
) -> None:
    session = LambdaSession("us-east-1")
    for service, operations in shipped(reads_generated).items():
        client = session.client(
            service, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        assert sorted(client.meta.service_model.operation_names) == operations
        for operation in operations:
            assert callable(getattr(client, xform_name(operation)))


def test_the_calls_libraries_make_on_signoffs_clients_come_with_the_models(
    reads_generated: Path,
) -> None:
    # Not in Signoff's source, so the scan cannot find them: without lambda:Invoke, Bolt could
    # start no lazy listener and every click answered 500 on AWS.
    session = LambdaSession("us-east-1")
    lam = session.client("lambda", aws_access_key_id="testing", aws_secret_access_key="testing")
    dynamodb = session.client(
        "dynamodb", aws_access_key_id="testing", aws_secret_access_key="testing"
    )

    assert callable(lam.invoke)
    for operation in ("get_item", "put_item", "update_item", "delete_item"):
        assert callable(getattr(dynamodb, operation))


def test_the_paginators_the_code_uses_come_with_the_models(reads_generated: Path) -> None:
    session = LambdaSession("us-east-1")
    ssm = session.client("ssm", aws_access_key_id="testing", aws_secret_access_key="testing")
    iam = session.client("iam", aws_access_key_id="testing", aws_secret_access_key="testing")

    assert ssm.can_paginate("describe_automation_executions")
    assert ssm.can_paginate("describe_automation_step_executions")
    assert iam.can_paginate("list_access_keys")


def test_dynamodb_works_from_the_trimmed_models(reads_generated: Path) -> None:
    session = LambdaSession("eu-west-1")
    client = session.client(
        "dynamodb", aws_access_key_id="testing", aws_secret_access_key="testing"
    )

    assert client.meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"
    assert len(client.meta.service_model.operation_names) < 10


def test_a_service_outside_the_trimmed_models_falls_back_to_botocores_own(
    reads_generated: Path,
) -> None:
    # A library making a client of its own (Bolt's lazy runner, given none) still gets one.
    sqs = LambdaSession("eu-west-1").client(
        "sqs", aws_access_key_id="testing", aws_secret_access_key="testing"
    )

    assert "SendMessage" in sqs.meta.service_model.operation_names


def test_trimming_keeps_the_shapes_an_operation_reaches_and_drops_the_rest(
    models: ModuleType,
) -> None:
    model = {
        "metadata": {"endpointPrefix": "x"},
        "operations": {
            "Keep": {"input": {"shape": "In"}, "errors": [{"shape": "Oops"}], "documentation": "d"},
            "Drop": {"input": {"shape": "Other"}},
        },
        "shapes": {
            "In": {"type": "structure", "members": {"Items": {"shape": "List"}}},
            "List": {"type": "list", "member": {"shape": "Item"}},
            "Item": {"type": "map", "key": {"shape": "Key"}, "value": {"shape": "Value"}},
            "Key": {"type": "string"},
            "Value": {"type": "string", "documentation": "long text"},
            "Oops": {"type": "structure", "members": {}},
            "Other": {"type": "string"},
        },
    }

    trimmed = models.trim_service(model, ["Keep"])

    assert list(trimmed["operations"]) == ["Keep"]
    assert sorted(trimmed["shapes"]) == ["In", "Item", "Key", "List", "Oops", "Value"]
    assert "documentation" not in json.dumps(trimmed)
