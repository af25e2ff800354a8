"""Execution environments: functions in warm processes of their own, with Lambda's semantics."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

import sandbox.aws
from sandbox.aws.environments import EnvironmentPool
from sandbox.lambda_runtime import LambdaContext

HANDLERS = "tests.support.lambda_functions"
NAME = "environment-test"
LOCAL_AWS = "http://127.0.0.1:9"  # nothing listens: these handlers never call AWS


def environ(handler: str, **variables: str) -> dict[str, str]:
    return {
        "AWS_LAMBDA_FUNCTION_NAME": NAME,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "_HANDLER": f"{HANDLERS}.{handler}",
        **variables,
    }


def context(timeout: float = 3.0) -> LambdaContext:
    return LambdaContext(
        function_name=NAME,
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{NAME}",
        memory_limit_in_mb=128,
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{NAME}",
        log_stream_name="",
        timeout_seconds=timeout,
    )


def call(
    pool: EnvironmentPool, handler: str, event: Any = None, timeout: float = 3.0, **variables: str
) -> tuple[Any, str | None]:
    payload, error = pool.invoke(environ(handler, **variables), json.dumps(event), context(timeout))
    return json.loads(payload), error


@pytest.fixture
def pool() -> Iterator[EnvironmentPool]:
    environments = EnvironmentPool(LOCAL_AWS)
    yield environments
    environments.close()


def test_a_function_runs_in_a_process_of_its_own_that_sees_only_its_own_settings(
    pool: EnvironmentPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someones-real-profile")
    monkeypatch.setenv("SIGNOFF_PARENT_ONLY", "not for functions")
    ctx = context()

    payload, error = pool.invoke(
        environ("describe", TABLE_NAME="approvals"), json.dumps({"n": 1}), ctx
    )
    seen = json.loads(payload)

    assert error is None
    assert seen["pid"] != os.getpid()
    assert seen["event"] == {"n": 1}
    assert seen["request_id"] == ctx.aws_request_id
    assert seen["function_name"] == NAME
    assert 0 < seen["remaining_ms"] <= 3000
    variables = seen["environ"]
    assert variables["TABLE_NAME"] == "approvals"
    assert variables["AWS_ENDPOINT_URL"] == LOCAL_AWS
    assert variables["AWS_CONFIG_FILE"] == os.devnull
    assert variables["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert variables["AWS_LAMBDA_LOG_STREAM_NAME"] == seen["log_stream"] == ctx.log_stream_name
    assert "AWS_PROFILE" not in variables
    assert "SIGNOFF_PARENT_ONLY" not in variables


def test_a_warm_environment_serves_the_next_invocation(pool: EnvironmentPool) -> None:
    first, _ = call(pool, "describe", {"n": 1})
    second, _ = call(pool, "describe", {"n": 2})

    assert second["pid"] == first["pid"]
    assert second["log_stream"] == first["log_stream"]
    assert (pool.started, pool.warm(NAME)) == (1, 1)


def test_concurrent_invocations_each_get_an_environment_then_share_the_warm_ones(
    pool: EnvironmentPool,
) -> None:
    pids: list[int] = []

    def slow() -> None:
        pids.append(call(pool, "sleep", {"seconds": 0.5})[0]["pid"])

    threads = [threading.Thread(target=slow) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after, _ = call(pool, "sleep", {"seconds": 0})

    assert len(set(pids)) == 2
    assert after["pid"] in pids
    assert pool.started == 2


def test_a_new_configuration_gets_new_environments_and_the_old_ones_stop(
    pool: EnvironmentPool,
) -> None:
    before, _ = call(pool, "describe", VERSION="1")
    after, _ = call(pool, "describe", VERSION="2")

    assert after["pid"] != before["pid"]
    assert after["environ"]["VERSION"] == "2"
    assert (pool.started, pool.warm(NAME)) == (2, 1)


def test_an_exception_answers_the_runtime_error_document_and_keeps_the_environment(
    pool: EnvironmentPool,
) -> None:
    document, error = call(pool, "fail", "deploy")
    call(pool, "fail", "again")

    assert error == "Unhandled"
    assert document["errorType"] == "ValueError"
    assert document["errorMessage"] == "refused 'deploy'"
    assert len(document["requestId"]) == 36
    assert document["stackTrace"]
    assert pool.started == 1


def test_an_invocation_past_the_timeout_ends_and_its_environment_is_replaced(
    pool: EnvironmentPool,
) -> None:
    document, error = call(pool, "sleep", {"seconds": 30}, timeout=0.5)
    after, late = call(pool, "sleep", {"seconds": 0})

    assert error == "Unhandled"
    assert document["errorMessage"].endswith("Task timed out after 0.50 seconds")
    assert late is None
    assert after["pid"]
    assert pool.started == 2


def test_a_runtime_that_exits_answers_exit_error(pool: EnvironmentPool) -> None:
    document, error = call(pool, "leave")

    assert error == "Unhandled"
    assert document["errorType"] == "Runtime.ExitError"
    assert document["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert pool.warm() == 0


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        (
            "no_such_function",
            "Runtime.HandlerNotFound",
            f"Handler 'no_such_function' missing on module '{HANDLERS}'",
        ),
        ("unserializable", "Runtime.MarshalError", "Unable to marshal response:"),
    ],
)
def test_a_handler_that_cannot_answer_gets_the_runtimes_own_error(
    pool: EnvironmentPool, handler: str, error_type: str, message: str
) -> None:
    document, error = call(pool, handler)

    assert error == "Unhandled"
    assert document["errorType"] == error_type
    assert document["errorMessage"].startswith(message)


def test_a_module_that_does_not_import_is_an_import_module_error(pool: EnvironmentPool) -> None:
    variables = {**environ("describe"), "_HANDLER": "tests.support.no_such_module.handler"}
    payload, error = pool.invoke(variables, "{}", context())
    document = json.loads(payload)

    assert error == "Unhandled"
    assert document["errorType"] == "Runtime.ImportModuleError"
    assert document["errorMessage"].startswith(
        "Unable to import module 'tests.support.no_such_module'"
    )


def test_close_stops_every_environment_and_refuses_more_work(pool: EnvironmentPool) -> None:
    call(pool, "describe")
    processes = [e.process for idle in pool._idle.values() for e in idle]

    pool.close()

    assert processes
    assert all(process.poll() is not None for process in processes)
    with pytest.raises(RuntimeError, match="shut down"):
        call(pool, "describe")


def test_the_lambda_api_runs_functions_in_environments_and_registered_ones_here(
    deploy_lambda: Callable[..., str], pool: EnvironmentPool
) -> None:
    deploy_lambda("by-handler-string", handler_path=f"{HANDLERS}.describe")
    deploy_lambda("registered", lambda event, context: {"pid": os.getpid()})
    client = boto3.client("lambda", region_name="us-east-1")
    sandbox.aws.lambdas.use_environments(pool)
    try:
        there = client.invoke(FunctionName="by-handler-string", Payload=b'{"n": 7}')
        here = client.invoke(FunctionName="registered", Payload=b"{}")
    finally:
        sandbox.aws.lambdas.use_environments(None)

    seen = json.loads(there["Payload"].read())
    assert "FunctionError" not in there
    assert seen["event"] == {"n": 7}
    assert seen["pid"] != os.getpid()
    assert seen["environ"]["AWS_LAMBDA_FUNCTION_NAME"] == "by-handler-string"
    assert json.loads(here["Payload"].read()) == {"pid": os.getpid()}


def test_a_burst_waits_for_a_warm_environment_rather_than_starting_one_each() -> None:
    pool = EnvironmentPool(LOCAL_AWS, max_starting=1)
    pids: list[int] = []

    def quick() -> None:
        pids.append(call(pool, "sleep", {"seconds": 0.2})[0]["pid"])

    try:
        threads = [threading.Thread(target=quick) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        pool.close()

    # The first to find no idle environment starts one; the others wait. When it is free, one
    # waiter takes it and the other takes the start slot it left: two environments, not three.
    assert len(pids) == 3
    assert len(set(pids)) == 2
    assert pool.started == 2
