"""The integration world is infra/template.yaml: change a resource in a copy and a path breaks.

The world (tests/support/world.py) deploys the template with the sandbox's own provisioning,
its functions acting as their template roles under their roles' policies. Each test here builds
a world from a copy of the template with one resource changed (a table's key, the result
rules' pattern, a role's policy), as an edit of the template would, and shows what a user would
notice; the last ones compare the world's tables and every function's environment with what
the template says, and find nothing hand-made beside the stack.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.views import ACTION_APPROVE
from sandbox.template import function_environment, load_template, resolver
from tests.support.world import (
    ACCOUNT,
    APPROVER_ROLE,
    PARAMETERS,
    REGION,
    ROLE_SESSION,
    TABLE_OUTPUTS,
    World,
    world_variables,
)

Change = Callable[[dict[str, Any]], None]


def rename_approvals_sort_key(template: dict[str, Any]) -> None:
    properties = template["Resources"]["ApprovalsTable"]["Properties"]
    for attribute in (*properties["AttributeDefinitions"], *properties["KeySchema"]):
        if attribute["AttributeName"] == "sk":
            attribute["AttributeName"] = "sort_key"


def step_rule_for_another_action(template: dict[str, Any]) -> None:
    events = template["Resources"]["AutomationResultFunction"]["Properties"]["Events"]
    for rule in events.values():
        rule["Properties"]["Pattern"]["detail"]["Action"] = ["aws:pause"]


def bot_may_not_assume_approvers(template: dict[str, Any]) -> None:
    del template["Resources"]["SlackEventsAssumeApprovers"]


def unchanged(template: dict[str, Any]) -> None:
    return None


@pytest.fixture
def change() -> Change:
    """What the test changes in the template (a test parametrizes it)."""
    return unchanged


@pytest.fixture
def world_template(change: Change, tmp_path: Path) -> Path:
    """A copy of infra/template.yaml with `change` made (intrinsics in their long form)."""
    template = load_template()
    change(template)
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "posted"),
    [
        (unchanged, True),
        (rename_approvals_sort_key, False),  # the card's claim no longer fits the table
    ],
    ids=["as shipped", "approvals table keyed by sort_key"],
)
def test_a_card_is_posted_only_when_the_templates_approvals_table_fits(
    world: World, change: Change, posted: bool
) -> None:
    world.map_user("U0ALICE", "alice")
    world.start_approval([APPROVER_ROLE])

    cards = [m for m in world.messages() if m.get("blocks")]
    assert bool(cards) is posted, cards


@pytest.mark.parametrize(
    ("change", "updated"),
    [(unchanged, True), (step_rule_for_another_action, False)],
    ids=["as shipped", "result rules match aws:pause steps"],
)
def test_a_decision_outside_slack_reaches_the_card_only_through_the_templates_rules(
    world: World, change: Change, updated: bool, assume_role: Any
) -> None:
    execution_id = world.start_approval([APPROVER_ROLE])
    ssm = assume_role(APPROVER_ROLE, "console-admin").client("ssm", region_name=REGION)

    ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    world.settle()

    assert world.execution_status(execution_id) == "Success"
    text = world.card_text()
    assert ("Approved* by `assumed-role/SignoffApprover/console-admin`" in text) is updated
    assert (ACTION_APPROVE not in text) is updated


@pytest.mark.parametrize(
    ("change", "approved"),
    [(unchanged, True), (bot_may_not_assume_approvers, False)],
    ids=["as shipped", "Slack function's role without assume-approver-roles"],
)
def test_a_click_approves_only_when_the_templates_role_lets_the_bot_act_as_the_person(
    world: World, change: Change, approved: bool
) -> None:
    world.map_user("U0ALICE", "alice")
    execution_id = world.start_approval([APPROVER_ROLE])

    world.decide("alice", ACTION_APPROVE)

    assert (world.execution_status(execution_id) == "Success") is approved
    assert ("Approved* by <@U0ALICE>" in world.card_text()) is approved


# -- the world's resources are the template's ----------------------------------------------------


def stack_refs(world: World) -> dict[str, str]:
    """What Ref and GetAtt …Arn of the stack's resources are in this world."""
    refs: dict[str, str] = {}
    for resource in world.stack.resources.values():
        refs[resource.logical_id] = resource.physical_id
        if resource.type == "AWS::IAM::Role":
            arn = f"arn:aws:iam::{ACCOUNT}:role/{resource.physical_id}"
            refs[f"{resource.logical_id}.Arn"] = arn
    return refs


def test_every_table_is_keyed_indexed_and_expires_as_the_template_says(
    world: World, world_template: Path
) -> None:
    template = load_template(world_template)
    dynamodb = world.client("dynamodb")
    for kind, output in TABLE_OUTPUTS.items():
        logical_id = output.removesuffix("Name")
        expected = template["Resources"][logical_id]["Properties"]
        table = dynamodb.describe_table(TableName=world.table(kind))["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=world.table(kind))["TimeToLiveDescription"]

        assert table["KeySchema"] == expected["KeySchema"], kind
        assert _sorted(table["AttributeDefinitions"]) == _sorted(expected["AttributeDefinitions"])
        indexes = [
            {k: i[k] for k in ("IndexName", "KeySchema", "Projection")}
            for i in table.get("GlobalSecondaryIndexes", [])
        ]
        assert indexes == expected.get("GlobalSecondaryIndexes", []), kind
        if "TimeToLiveSpecification" in expected:
            assert ttl.get("TimeToLiveStatus") == "ENABLED", kind
            assert ttl.get("AttributeName") == expected["TimeToLiveSpecification"]["AttributeName"]
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED", kind


def test_every_function_has_the_templates_environment_and_only_the_worlds_additions(
    world: World, world_template: Path
) -> None:
    template = load_template(world_template)
    lam = world.client("lambda")
    parameters = {**PARAMETERS}
    additions = world_variables(world.emulator.api_url)
    functions = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert functions, "the template has functions"
    for logical_id in functions:
        expected = function_environment(
            template,
            logical_id,
            parameters,
            refs=stack_refs(world),
            pseudo={"AWS::Region": REGION, "AWS::StackName": world.stack.name},
        )
        name = world.stack.physical_id(logical_id)
        variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        # What Lambda gives every function: its execution role's session.
        session = {key: variables.pop(key, None) for key in ROLE_SESSION}

        assert variables == {**expected, **additions}, logical_id
        assert all(session.values()), logical_id


def test_the_worlds_resources_are_the_templates_and_nothing_hand_made(
    world: World, world_template: Path
) -> None:
    """Every resource the template has (conditions evaluated) is in the stack, and the only
    functions, tables and topics in the world are the stack's."""
    template = load_template(world_template)
    resolve = resolver(template, PARAMETERS)
    kept = {
        logical_id for logical_id in template["Resources"] if resolve.resource_exists(logical_id)
    }
    assert kept <= set(world.stack.resources)
    functions = {f["FunctionName"] for f in world.client("lambda").list_functions()["Functions"]}
    tables = set(world.client("dynamodb").list_tables()["TableNames"])
    topics = {t["TopicArn"] for t in world.client("sns").list_topics()["Topics"]}

    assert functions == {r.physical_id for r in world.stack.of_type("AWS::Lambda::Function")}
    assert tables == {r.physical_id for r in world.stack.of_type("AWS::DynamoDB::Table")}
    assert topics == {r.physical_id for r in world.stack.of_type("AWS::SNS::Topic")}


def _sorted(attributes: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(attributes, key=lambda a: a["AttributeName"])
