"""bot/aws_models/: the trimmed AWS models the functions load hold every call the code makes."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from botocore import xform_name
from botocore.exceptions import UnknownServiceError

from bot.gateways.session import MODELS, LambdaSession

ROOT = Path(__file__).resolve().parents[2]


def shipped() -> dict[str, list[str]]:
    return dict(json.loads((MODELS / "operations.json").read_text()))


def test_every_operation_the_code_calls_is_in_the_trimmed_models(models: ModuleType) -> None:
    assert models.missing_operations() == {}, "run `make aws-models`"


def test_a_call_added_to_the_code_is_reported_missing(
    models: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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

    assert models.missing_operations() == {"ssm": ["AddTagsToResource"]}


def test_a_client_from_the_lambda_session_has_exactly_the_shipped_operations() -> None:
    session = LambdaSession("us-east-1")
    for service, operations in shipped().items():
        client = session.client(
            service,  # type: ignore[call-overload]
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        assert sorted(client.meta.service_model.operation_names) == operations
        for operation in operations:
            assert callable(getattr(client, xform_name(operation)))


def test_the_paginators_the_code_uses_come_with_the_models() -> None:
    session = LambdaSession("us-east-1")
    ssm = session.client("ssm", aws_access_key_id="testing", aws_secret_access_key="testing")
    iam = session.client("iam", aws_access_key_id="testing", aws_secret_access_key="testing")

    assert ssm.can_paginate("describe_automation_executions")
    assert ssm.can_paginate("describe_automation_step_executions")
    assert iam.can_paginate("list_access_keys")


def test_dynamodb_works_from_the_trimmed_models() -> None:
    session = LambdaSession("eu-west-1")
    client = session.client(
        "dynamodb", aws_access_key_id="testing", aws_secret_access_key="testing"
    )

    assert client.meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"


def test_a_service_outside_the_trimmed_models_is_refused_loudly() -> None:
    with pytest.raises(UnknownServiceError):
        LambdaSession("us-east-1").client("s3")


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
