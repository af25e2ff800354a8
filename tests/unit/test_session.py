"""The functions' AWS session: only the handlers of Signoff's services; credentials from env."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore import handlers
from botocore.model import ServiceId
from moto import mock_aws

from bot.gateways.session import EVENT_SERVICE_IDS, MODELS, LambdaSession, concerns_signoff
from tests.support.world import REGION


def test_the_event_names_it_keeps_are_those_of_the_services_it_has_models_for() -> None:
    service_ids = set()
    for model in MODELS.glob("*/*/service-2.json"):
        metadata = json.loads(model.read_text())["metadata"]
        service_ids.add(ServiceId(metadata["serviceId"]).hyphenize())

    assert service_ids == EVENT_SERVICE_IDS


@pytest.mark.parametrize(
    ("event_name", "kept"),
    [
        ("before-call", True),
        ("before-parameter-build", True),
        ("creating-client-class", True),
        ("after-call.iam", True),
        ("choose-signer.sts.AssumeRoleWithSAML", True),
        ("needs-retry.*", True),
        ("before-parameter-build.s3.PutObject", False),
        ("after-call.sqs.*", False),
        ("before-parameter-build.s3-control", False),
        ("creating-client-class.bedrock-runtime", False),
        ("docs.*.iam.*.complete-section", False),
    ],
)
def test_a_builtin_handler_is_kept_when_its_event_can_concern_signoffs_clients(
    event_name: str, kept: bool
) -> None:
    assert concerns_signoff(event_name) is kept


def test_every_builtin_handler_for_signoffs_services_is_still_among_those_kept() -> None:
    """Cross-check with botocore's own list: no handler naming one of the services is dropped."""
    for spec in handlers.BUILTIN_HANDLERS:
        named = spec[0].split(".")
        if named[0] != "docs" and len(named) > 1 and named[1] in EVENT_SERVICE_IDS:
            assert concerns_signoff(spec[0]), spec


@mock_aws
def test_a_kept_handler_still_runs_iam_policies_come_back_decoded() -> None:
    # botocore's after-call.iam handler turns IAM's URL-encoded policy documents into dicts.
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(RoleName="fake-role", AssumeRolePolicyDocument=json.dumps(trust))

    lambda_iam = LambdaSession(REGION).client("iam")
    got = lambda_iam.get_role(RoleName="fake-role")

    assert got["Role"]["AssumeRolePolicyDocument"] == trust


def test_credentials_in_the_environment_are_read_from_it_alone() -> None:
    # The suite's fixture puts obviously fake keys in the environment, as Lambda puts the role's.
    credentials = LambdaSession(REGION)._core.get_credentials()

    assert credentials is not None
    assert (credentials.method, credentials.access_key) == ("env", "testing")


def test_without_credentials_in_the_environment_botocores_whole_chain_looks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shared = tmp_path / "credentials"
    shared.write_text(
        "[default]\naws_access_key_id = fake-file-key\naws_secret_access_key = fake-file-secret\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    credentials = LambdaSession(REGION)._core.get_credentials()

    assert credentials is not None
    assert (credentials.method, credentials.access_key) == (
        "shared-credentials-file",
        "fake-file-key",
    )


@mock_aws
def test_an_old_name_of_one_of_signoffs_services_still_names_it_in_events() -> None:
    # Clients translate event names by Signoff's aliases only: secretsmanager is secrets-manager.
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="fake-secret", SecretString="fake"
    )
    client = LambdaSession(REGION).client("secretsmanager")
    seen: list[str] = []
    client.meta.events.register(
        "before-call.secretsmanager.GetSecretValue",
        lambda model, **_: seen.append(model.name),
    )

    client.get_secret_value(SecretId="fake-secret")

    assert seen == ["GetSecretValue"]
