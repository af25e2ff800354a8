"""The functions' AWS session: botocore's, as shipped, in the function's region."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from bot.gateways.session import LambdaSession
from tests.support.world import REGION


def test_clients_are_in_the_sessions_region_unless_told_otherwise() -> None:
    session = LambdaSession(REGION)

    assert session.client("ssm").meta.region_name == REGION
    assert session.client("ssm", region_name="us-east-2").meta.region_name == "us-east-2"


@mock_aws
def test_iam_policies_come_back_decoded_as_botocore_decodes_them() -> None:
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


@mock_aws
def test_an_old_name_of_one_of_signoffs_services_still_names_it_in_events() -> None:
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
