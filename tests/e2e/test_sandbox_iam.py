"""Each role grants what its function really calls, on a sandbox deployed from the template.

moto does not enforce IAM: a function whose role lacks a permission works here and fails on AWS
with AccessDenied. So the sandbox runs each function with its own role's credentials and counts
every request's caller and action (`GET /_sandbox/calls`); after the three flows and a
reconciler pass, each role's calls are held to the template's statements for that role.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bot.views import ACTION_APPROVE
from sandbox.template import load_template, resolver
from tests.e2e.conftest import SandboxClient, wait_for
from tests.support.iam import FUNCTION_ROLES, role_actions

pytestmark = pytest.mark.e2e

LEVEL1 = "approvals-level1"


def test_every_action_a_function_calls_is_granted_to_its_own_role(
    sandbox: SandboxClient,
) -> None:
    sandbox.control_aws("DELETE", "calls")
    # A card, a decision and its outcome: the notice, Slack and result functions.
    execution_id = sandbox.start_approval("Deploy build 7")
    sandbox.decide("alice", ACTION_APPROVE, "ok", channel=LEVEL1, about=execution_id)
    # A flow's first level, approved: the start function and a task token sent back.
    sfn = sandbox.aws("stepfunctions")
    sfn.start_execution(
        stateMachineArn=sandbox.outputs["ApprovalFlowStateMachineArn"],
        input=sandbox.outputs["StepFunctionsInputExample"],
    )
    card = wait_for(lambda: _waiting_level_card(sandbox), 20, "the flow's level 1 card")
    sandbox.decide("alice", ACTION_APPROVE, "ok", channel=LEVEL1, ts=card["ts"])
    # An access key requested and approved: the issuer.
    sandbox.command("dave", "/request-key", "dave IAM check key")
    sandbox.decide("alice", ACTION_APPROVE, "ok", channel="approvals", about="IAM check key")
    # A reconciler pass.
    reconciled = sandbox.aws("lambda").invoke(FunctionName=_function(sandbox, "ReconcileFunction"))
    assert "FunctionError" not in reconciled, reconciled["Payload"].read()
    sandbox.settle()

    roles = _roles_by_name(sandbox)
    called: dict[str, set[str]] = {}
    for call in sandbox.control_aws("GET", "calls")["calls"]:
        caller = str(call["caller"])
        if ":assumed-role/" not in caller:
            continue  # the test's own requests, and the engine's
        role = roles.get(caller.split(":assumed-role/", 1)[1].split("/", 1)[0])
        if role is not None:
            called.setdefault(role, set()).add(str(call["action"]))

    # A role missing here means a flow did not reach its function: the check would pass for it
    # for nothing.
    assert set(called) >= FUNCTION_ROLES, f"no calls seen for {FUNCTION_ROLES - set(called)}"
    template = load_template()
    resolve = resolver(template, {"LevelCount": 5})
    missing = {
        role: sorted(actions - role_actions(template, resolve, role))
        for role, actions in called.items()
    }
    assert {role: gaps for role, gaps in missing.items() if gaps} == {}


def _waiting_level_card(sandbox: SandboxClient) -> dict[str, Any] | None:
    for message in sandbox.messages(LEVEL1):
        for reply in message.get("replies", []):
            blocks = json.dumps(reply.get("blocks") or [])
            if "*Level 1 of" in blocks and ACTION_APPROVE in blocks:
                return dict(reply)
    return None


def _roles_by_name(sandbox: SandboxClient) -> dict[str, str]:
    """The stack's roles: physical name -> logical id."""
    resources = sandbox.aws("cloudformation").describe_stack_resources(StackName="signoff")
    return {
        r["PhysicalResourceId"].rsplit("/", 1)[-1]: r["LogicalResourceId"]
        for r in resources["StackResources"]
        if r["ResourceType"] == "AWS::IAM::Role"
    }


def _function(sandbox: SandboxClient, logical_id: str) -> str:
    resources = sandbox.aws("cloudformation").describe_stack_resources(
        StackName="signoff", LogicalResourceId=logical_id
    )
    return str(resources["StackResources"][0]["PhysicalResourceId"])


# --- The local AWS refuses what a role does not grant --------------------------------------


def test_a_function_role_without_a_resource_is_refused_by_the_local_aws(
    sandbox: SandboxClient,
) -> None:
    """A role session may touch only what its role names, as on AWS: the key issuer's role
    names users under KeyUserPath and secrets under SecretPrefix, nothing else."""
    iam, secrets = sandbox.aws("iam"), sandbox.aws("secretsmanager")
    iam.create_user(UserName="root-path-user")  # under "/", outside KeyUserPath
    role = _role_arn(sandbox, "IssueAccessKeyRole")
    issuer = sandbox.as_role(role, "issuer-probe")
    slack_secret = sandbox.outputs["SlackSecretArn"]

    with pytest.raises(ClientError) as refused:
        sandbox.aws("iam", **issuer).create_access_key(UserName="root-path-user")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as refused:
        sandbox.aws("secretsmanager", **issuer).get_secret_value(SecretId=slack_secret)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as refused:
        sandbox.aws("secretsmanager", **issuer).create_secret(
            Name="elsewhere/key", SecretString="x"
        )
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert iam.list_access_keys(UserName="root-path-user")["AccessKeyMetadata"] == []
    assert "elsewhere/key" not in {s["Name"] for s in secrets.list_secrets()["SecretList"]}

    # What the role does name is served: a user under KeyUserPath.
    iam.create_user(UserName="probe-key-user", Path="/signoff-keys/")
    listed = sandbox.aws("iam", **issuer).list_access_keys(UserName="probe-key-user")
    assert listed["AccessKeyMetadata"] == []


def test_the_slack_functions_role_may_read_the_slack_secret_locally(
    sandbox: SandboxClient,
) -> None:
    bot = sandbox.as_role(_role_arn(sandbox, "SlackEventsRole"), "bot-probe")
    secret = sandbox.outputs["SlackSecretArn"]

    value = sandbox.aws("secretsmanager", **bot).get_secret_value(SecretId=secret)

    assert "signing_secret" in value["SecretString"]


def _role_arn(sandbox: SandboxClient, logical_id: str) -> str:
    resources = sandbox.aws("cloudformation").describe_stack_resources(
        StackName="signoff", LogicalResourceId=logical_id
    )
    name = resources["StackResources"][0]["PhysicalResourceId"]
    return str(sandbox.aws("iam").get_role(RoleName=name)["Role"]["Arn"])
