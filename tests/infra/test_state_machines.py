"""The approval flow's state machines, read from the template as Step Functions would get them.

Checks the graph (every target exists, every state is reachable: AWS refuses unreachable states),
what each task passes on, and walks the flow for given decisions: any rejection ends it, later
levels never start, errors keep their Error and Cause.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.template import resolver, state_machine_definition

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

PARENT = "ApprovalFlowStateMachine"
CHILD = "ApprovalLevelStateMachine"
LEVEL_KEYS = (
    "ssm_notification_arn",
    "ssm_approvers",
    "ssm_min_required_approvals",
    "confirmation_url",
    "confirmation_file",
)
# The seed's StepFunctionsInputExample (3 levels): the parent must accept it unchanged.
SEED_INPUT_KEYS = {
    "region",
    "ssm_doc_name",
    "ssm_automation_assume_role",
    "ssm_description",
    *(f"level{n}_{key}" for n in (1, 2, 3) for key in LEVEL_KEYS),
}
# The seed's approval message, built from the level's confirmation file and URL.
SEED_MESSAGE = (
    "States.Format('Approval request has been received. Please review file {} at the following "
    "URL to decide whether to approve or deny. URL: {}', $$.Execution.Input.confirmation_file, "
    "$$.Execution.Input.confirmation_url)"
)
CONTEXT_INPUT = re.compile(r"\$\$\.Execution\.Input\.([A-Za-z0-9_]+)")


def parent(template: dict[str, Any], levels: int) -> dict[str, Any]:
    return state_machine_definition(template, PARENT, parameters={"LevelCount": levels})


def child(template: dict[str, Any]) -> dict[str, Any]:
    return state_machine_definition(template, CHILD)


def targets(state: Mapping[str, Any]) -> Iterator[str]:
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for rule in state.get("Choices", []):
        yield rule["Next"]
    for catcher in state.get("Catch", []):
        yield catcher["Next"]


def reachable(definition: Mapping[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(targets(definition["States"][name]))
    return seen


def input_keys_read(node: Any) -> set[str]:
    return set(CONTEXT_INPUT.findall(json.dumps(node)))


@dataclass(frozen=True)
class TaskError:
    error: str
    cause: str


def choose(state: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    for rule in state["Choices"]:
        key = rule["Variable"].removeprefix("$.")
        if "IsPresent" in rule and (key in data) == rule["IsPresent"]:
            return str(rule["Next"])
        if "BooleanEquals" in rule and key in data and data[key] is rule["BooleanEquals"]:
            return str(rule["Next"])
    return str(state["Default"])


def walk(definition: Mapping[str, Any], results: Mapping[str, Any]) -> tuple[list[str], str, Any]:
    """Run the definition: each Task returns results[name] (or fails with a TaskError)."""
    name, data, tasks = definition["StartAt"], {}, []
    for _ in range(100):
        state = definition["States"][name]
        if state["Type"] == "Task":
            tasks.append(name)
            result = results[name]
            if isinstance(result, TaskError):
                [catcher] = state["Catch"]
                assert catcher["ResultPath"] == "$.error"
                data = {**data, "error": {"Error": result.error, "Cause": result.cause}}
                name = catcher["Next"]
                continue
            data = result["Output"] if state.get("OutputPath") == "$.Output" else result
            name = state["Next"]
        elif state["Type"] == "Choice":
            name = choose(state, data)
        elif state["Type"] == "Succeed":
            return tasks, name, data
        elif state["Type"] == "Fail":
            error = data["error"]["Error"] if "ErrorPath" in state else state["Error"]
            cause = data["error"]["Cause"] if "CausePath" in state else state["Cause"]
            if "ErrorPath" in state:
                assert state["ErrorPath"] == "$.error.Error"
            if "CausePath" in state:
                assert state["CausePath"] == "$.error.Cause"
            return tasks, name, {"Error": error, "Cause": cause}
    raise AssertionError("the walk did not end")


def decided(approved: bool) -> dict[str, Any]:
    return {"Output": {"is_approved": approved, "decided_by": ["U1"], "comment": ""}}


# -- the graph -------------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [1, 2, 3, 4, 5])
def test_the_parent_has_one_task_per_level_and_every_state_is_reachable(
    template: dict[str, Any], levels: int
) -> None:
    definition = parent(template, levels)
    states = definition["States"]
    tasks = [n for n, s in states.items() if s["Type"] == "Task"]

    assert tasks == [f"Level{n}" for n in range(1, levels + 1)]
    assert all(t in states for s in states.values() for t in targets(s))
    assert reachable(definition) == set(states)
    assert {"Approved", "Rejected", "Failed"} <= set(states)


def test_the_child_graph_is_complete(template: dict[str, Any]) -> None:
    definition = child(template)
    states = definition["States"]

    assert all(t in states for s in states.values() for t in targets(s))
    assert reachable(definition) == set(states)


# -- what each task passes on ---------------------------------------------------------------------


@pytest.mark.parametrize("levels", [1, 3, 5])
def test_each_level_starts_the_approval_level_machine_linked_to_its_parent(
    template: dict[str, Any], levels: int
) -> None:
    states = parent(template, levels)["States"]

    for n in range(1, levels + 1):
        task = states[f"Level{n}"]
        assert task["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
        assert task["OutputPath"] == "$.Output"
        parameters = task["Parameters"]
        assert parameters["StateMachineArn"] == CHILD  # the child's ARN (Ref) after substitution
        given = parameters["Input"]
        assert given["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] == "$$.Execution.Id"
        assert given["level"] == n
        assert given["levels.$"] == f"States.StringToJson('{levels}')"
        for key in LEVEL_KEYS:
            assert given[f"{key}.$"] == f"$$.Execution.Input.level{n}_{key}"


@pytest.mark.parametrize("levels", [1, 2, 3, 4, 5])
def test_the_parent_reads_only_the_seed_keys_of_the_levels_it_has(
    template: dict[str, Any], levels: int
) -> None:
    read = input_keys_read(parent(template, levels))
    common = {"region", "ssm_doc_name", "ssm_automation_assume_role", "ssm_description"}
    expected = common | {f"level{n}_{k}" for n in range(1, levels + 1) for k in LEVEL_KEYS}

    assert read == expected
    if levels <= 3:
        assert read <= SEED_INPUT_KEYS  # the seed's input runs unchanged


@pytest.mark.parametrize("levels", [1, 3, 5])
def test_the_stack_outputs_an_input_example_the_parent_accepts(
    template: dict[str, Any], levels: int
) -> None:
    resolve = resolver(template, {"LevelCount": levels})
    example = json.loads(resolve.resolve(template["Outputs"]["StepFunctionsInputExample"]["Value"]))

    assert input_keys_read(parent(template, levels)) <= set(example)
    assert example["ssm_doc_name"] == "ApprovalDocument"
    assert example["ssm_automation_assume_role"] == "AutomationRole.Arn"
    assert example[f"level{levels}_ssm_notification_arn"] == f"Level{levels}Topic"
    assert example["level1_ssm_approvers"] == "Level1ApproverRole.Arn"
    assert f"level{levels + 1}_ssm_approvers" not in example


def test_the_input_example_names_given_approvers_and_quorum(template: dict[str, Any]) -> None:
    resolve = resolver(
        template,
        {"Level1Approvers": "arn:aws:iam::1:role/A,alice", "Level1MinApprovals": 2},
    )
    example = json.loads(resolve.resolve(template["Outputs"]["StepFunctionsInputExample"]["Value"]))

    assert example["level1_ssm_approvers"] == "arn:aws:iam::1:role/A,alice"
    assert example["level1_ssm_min_required_approvals"] == "2"


def test_the_child_reads_only_what_the_parent_passes(template: dict[str, Any]) -> None:
    passed = {
        k.removesuffix(".$") for k in parent(template, 3)["States"]["Level1"]["Parameters"]["Input"]
    }

    assert input_keys_read(child(template)) <= passed


def test_the_child_reads_only_what_seed_000s_parent_passes(template: dict[str, Any]) -> None:
    # The seed's child is a component other workflows call with the seed parent's input.
    seed = json.loads((FIXTURES / "sfn_approval_parent.json").read_text())
    first = seed["States"][seed["StartAt"]]
    passed = {k.removesuffix(".$") for k in first["Parameters"]["Input"]}

    assert "level" not in passed
    assert input_keys_read(child(template)) <= passed


def test_level_1_hands_the_whole_flow_input_on_for_checking(template: dict[str, Any]) -> None:
    for levels in (2, 3):
        states = parent(template, levels)["States"]
        assert states["Level1"]["Parameters"]["Input"]["flow_input.$"] == "$$.Execution.Input"
        assert "flow_input.$" not in states["Level2"]["Parameters"]["Input"]


def test_the_child_task_hands_the_token_to_start_approval(template: dict[str, Any]) -> None:
    task = child(template)["States"]["StartApproval"]
    parameters = task["Parameters"]
    payload = parameters["Payload"]

    assert task["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert parameters["FunctionName"] == "StartApprovalFunction.Arn"
    assert payload["token.$"] == "$$.Task.Token"
    # Level metadata travels inside the whole input: a path to an absent key would fail the
    # state, and seed 000's parent passes no level (start_approval reads them if present).
    assert payload["execution_id.$"] == "$$.Execution.Id"
    assert payload["execution_input.$"] == "$$.Execution.Input"
    assert not {"flow_id.$", "level.$", "levels.$"} & set(payload)
    for key in ("ssm_doc_name", "ssm_automation_assume_role", "ssm_description", *LEVEL_KEYS[:3]):
        assert payload[f"{key}.$"] == f"$$.Execution.Input.{key}"
    assert payload["step.$"] == "$$.State.Name"
    assert payload["ssm_message.$"] == SEED_MESSAGE
    # Longer than the approval runbook's own 7-day timeout, whose TimedOut fails the task first.
    assert 604800 < task["TimeoutSeconds"] <= child(template)["TimeoutSeconds"]
    assert "HeartbeatSeconds" not in task


def test_the_state_machines_log_without_execution_data(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    for logical_id in (PARENT, CHILD):
        logging = resources[logical_id]["Properties"]["LoggingConfiguration"]
        group = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
        assert logging["Level"] == "ALL"
        assert logging["IncludeExecutionData"] is False  # task tokens stay out of the logs
        assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# -- walking the flow ------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [1, 2, 3, 4, 5])
def test_all_levels_approve_in_order(template: dict[str, Any], levels: int) -> None:
    results = {f"Level{n}": decided(True) for n in range(1, levels + 1)}

    tasks, end, output = walk(parent(template, levels), results)

    assert tasks == [f"Level{n}" for n in range(1, levels + 1)]
    assert end == "Approved"
    assert output["is_approved"] is True


@pytest.mark.parametrize("rejecting", [1, 2, 3])
def test_a_rejection_ends_the_flow_and_later_levels_never_start(
    template: dict[str, Any], rejecting: int
) -> None:
    results = {f"Level{n}": decided(n != rejecting) for n in range(1, 4)}

    tasks, end, output = walk(parent(template, 3), results)

    assert tasks == [f"Level{n}" for n in range(1, rejecting + 1)]
    assert end == "Rejected"
    assert output["is_approved"] is False


def test_a_failed_level_fails_the_flow_keeping_error_and_cause(template: dict[str, Any]) -> None:
    results = {"Level1": decided(True), "Level2": TaskError("States.TaskFailed", "TimedOut")}

    tasks, end, error = walk(parent(template, 3), results)

    assert tasks == ["Level1", "Level2"]
    assert end == "Failed"
    # A Fail state may not raise States.*: the parent names the level failure, keeping the
    # child's error and cause (startExecution.sync:2 puts both in the cause).
    assert error == {"Error": "Signoff.LevelFailed", "Cause": "TimedOut"}


@pytest.mark.parametrize(
    ("result", "end"),
    [
        ({"is_approved": True, "decided_by": ["U1"]}, "Approved"),
        ({"is_approved": False, "decided_by": ["U2"]}, "Rejected"),
        ({"decided_by": ["U1"]}, "NoDecision"),
        ({"is_approved": "yes"}, "NoDecision"),
        (TaskError("Signoff.TimedOut", "the approval timed out"), "Failed"),
    ],
)
def test_the_child_turns_the_callback_into_its_outcome(
    template: dict[str, Any], result: Any, end: str
) -> None:
    _, reached, output = walk(child(template), {"StartApproval": result})

    assert reached == end
    if end == "Rejected":
        assert output["is_approved"] is False  # the parent's Choice reads it from $.Output
    if isinstance(result, TaskError):
        assert output == {"Error": result.error, "Cause": result.cause}
