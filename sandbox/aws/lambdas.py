"""Lambda functions the sandbox runs: Python callables by function name, AWS-shaped results.

A function is resolved, at each invocation, from the registry (`register(name, handler)`) or
else from the moto function's configured `Handler` string (`handlers.approval_notice
.lambda_handler` imports `handlers.approval_notice` and takes `lambda_handler`), so functions
created from a SAM template run the project's own code with no Docker.

Where it runs:
- in execution environments of its own, once `use_environments(EnvironmentPool(...))` is
  called (what `signoff sandbox` does): a process per concurrent invocation, kept warm, with the
  function's variables as its environment and the local AWS as its endpoint, as on Lambda
  (`sandbox.aws.environments`);
- otherwise in the caller's thread (tests under `moto.mock_aws()`), where the handler sees the
  function's `Environment.Variables` and the standard `AWS_LAMBDA_*` variables in `os.environ`
  (a per-thread overlay, so concurrent invocations of different functions do not see each
  other's settings). Threads the handler starts itself see the process environment only.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend as lambda_backend
from moto.core.models import botocore_stubber
from moto.sqs.models import sqs_backends
from moto.sts.models import AssumedRole, sts_backends
from moto.utilities.utils import get_partition

from sandbox.aws.activity import TrackedPool
from sandbox.aws.environments import EnvironmentPool
from sandbox.lambda_runtime import (
    Handler,
    HandlerUnavailable,
    LambdaContext,
    decode_event,
    error_document,
    import_handler,
    run,
)

log = logging.getLogger(__name__)


class LambdaRegistry:
    """Function name -> Python handler, for functions whose code is not importable by name."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()

    def register(self, function_name: str, handler: Handler) -> None:
        with self._lock:
            self._handlers[function_name] = handler

    def unregister(self, function_name: str) -> None:
        with self._lock:
            self._handlers.pop(function_name, None)

    def clear(self) -> None:
        with self._lock:
            self._handlers.clear()

    def get(self, function_name: str) -> Handler | None:
        with self._lock:
            return self._handlers.get(function_name)


registry = LambdaRegistry()
register = registry.register
unregister = registry.unregister


@dataclass(frozen=True)
class Invocation:
    """What the Invoke API reports: the payload and `FunctionError` ("Unhandled" on a raise)."""

    payload: bytes
    function_error: str | None
    request_id: str
    executed_version: str


def resolve_handler(function: LambdaFunction) -> Handler:
    handler = registry.get(function.function_name)
    if handler is not None:
        return handler
    return import_handler(function.handler or "")


def invoke(function: LambdaFunction, body: str | bytes | None) -> Invocation:
    """Run the function's handler now (RequestResponse semantics): in an execution environment
    of its own when `use_environments` gave the sandbox some, else in this thread."""
    request_id = str(uuid.uuid4())
    version = str(function.version)
    started = datetime.now(UTC)
    context = LambdaContext(
        function_name=function.function_name,
        function_version=version,
        invoked_function_arn=function.function_arn,
        memory_limit_in_mb=int(function.memory_size),
        aws_request_id=request_id,
        log_group_name=function.logs_group_name,
        log_stream_name=f"{started:%Y/%m/%d}/[{version}]{uuid.uuid4().hex}",
        timeout_seconds=float(function.timeout),
    )
    environ = _lambda_environ(function, context)
    environments = _environments
    if environments is not None and registry.get(function.function_name) is None:
        payload, error = environments.invoke(environ, body, context)
    else:
        payload, error = _invoke_here(function, environ, body, context)
    if error:
        log.info("Lambda %s failed: %s", function.function_name, payload.decode("utf-8", "replace"))
    return Invocation(payload, error, request_id, version)


def _invoke_here(
    function: LambdaFunction,
    environ: dict[str, str],
    body: str | bytes | None,
    context: LambdaContext,
) -> tuple[bytes, str | None]:
    request_id = context.aws_request_id
    # The handler's module is imported (on first use) inside the function's environment, as on
    # Lambda: what it reads at import (Powertools' service name and log level) is the function's.
    token = _environ_overlay.set(environ)
    try:
        handler = resolve_handler(function)
    except HandlerUnavailable as exc:
        return error_document(exc.error_type, str(exc), request_id, []), "Unhandled"
    finally:
        _environ_overlay.reset(token)
    if not botocore_stubber.enabled and not (
        environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    ):
        # A handler's boto3 calls would leave the machine: refuse rather than reach AWS.
        message = (
            "No local AWS for in-process Lambdas: run inside moto.mock_aws() or the sandbox "
            "server, or set AWS_ENDPOINT_URL."
        )
        return error_document("Sandbox.NoLocalAws", message, request_id, []), "Unhandled"
    token = _environ_overlay.set(environ)
    try:
        return run(handler, body, context)
    finally:
        _environ_overlay.reset(token)


_environments: EnvironmentPool | None = None


def use_environments(environments: EnvironmentPool | None) -> None:
    """Run functions in these execution environments from now on (None: in-process again).
    Functions `register`ed by name still run in-process: their code is a Python object here."""
    global _environments
    _environments = environments


def environments() -> EnvironmentPool | None:
    """The execution environments functions run in, or None when they run in-process."""
    return _environments


class UrlInvoker:
    """How a Function URL reaches its function: the Lambda service runs it, synchronously.

    Answers like the Invoke API (`Payload`, `FunctionError`), without the signed SDK request
    and its parsing on every HTTP request the URL gets.
    """

    def __init__(self, account_id: str, region: str) -> None:
        self._account_id = account_id
        self._region = region

    def invoke(self, FunctionName: str, Payload: str | bytes) -> dict[str, Any]:
        backend = lambda_backend(self._account_id, self._region)
        result = invoke(backend.get_function(FunctionName, None), Payload)
        reply: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": result.executed_version,
            "Payload": io.BytesIO(result.payload),
        }
        if result.function_error:
            reply["FunctionError"] = result.function_error
        return reply


_async_pool = TrackedPool("sandbox-lambda-async", workers=8)


def invoke_async(function: LambdaFunction, body: str | bytes | None) -> None:
    """Queue an `Event` invocation: the caller never waits and never sees the handler's error."""
    _async_pool.submit(_invoke_and_log, function, body)


# AWS retries a failed asynchronous invocation (by default twice, after about one and then two
# minutes; EventInvokeConfig's MaximumRetryAttempts changes the count). Same count and order
# here, seconds instead of minutes; the worker waits, so settle() waits for the retries too.
# An event older than MaximumEventAgeInSeconds (default 6 hours) is not tried again. Either way
# the event then goes to the on-failure destination (DestinationConfig.OnFailure, an SQS queue
# here) as the record AWS sends; without one it is dropped, as on AWS.
ASYNC_RETRY_DELAYS = (1.0, 2.0)
_DEFAULT_MAX_EVENT_AGE = 21_600


def _invoke_and_log(function: LambdaFunction, body: str | bytes | None) -> None:
    config = _invoke_config(function)
    attempts = 1 + int(config.get("MaximumRetryAttempts", 2))
    max_age = float(config.get("MaximumEventAgeInSeconds", _DEFAULT_MAX_EVENT_AGE))
    queued = time.monotonic()
    for attempt in range(1, attempts + 1):
        result = invoke(function, body)
        if not result.function_error:
            return
        error = result.payload.decode("utf-8", "replace")
        # AWS records async failures in the function's logs; callers are not told. The last
        # attempt's error is logged whole, trace and all; one that is tried again (a function
        # asking for a retry, as a busy flow does at start) is a line.
        if attempt == attempts:
            log.error(
                "async invocation of %s failed (attempt %d of %d): %s",
                function.function_name,
                attempt,
                attempts,
                error,
            )
            _send_to_failure_destination(
                function, config, body, result, attempt, "RetriesExhausted"
            )
            return
        delay = ASYNC_RETRY_DELAYS[min(attempt, len(ASYNC_RETRY_DELAYS)) - 1]
        if time.monotonic() - queued + delay > max_age:
            log.error(
                "async invocation of %s failed (attempt %d of %d), too old to try again: %s",
                function.function_name,
                attempt,
                attempts,
                error,
            )
            _send_to_failure_destination(
                function, config, body, result, attempt, "EventAgeExceeded"
            )
            return
        log.warning(
            "async invocation of %s failed (attempt %d of %d), tried again in %g s: %s",
            function.function_name,
            attempt,
            attempts,
            delay,
            _one_line(error),
        )
        time.sleep(delay)


def _one_line(error: str) -> str:
    """`errorType: errorMessage` of Lambda's error payload, without its stack trace."""
    try:
        parsed = json.loads(error)
    except ValueError:
        return error.splitlines()[0] if error else error
    if not isinstance(parsed, dict) or "errorMessage" not in parsed:
        return error
    return f"{parsed.get('errorType', 'Error')}: {parsed['errorMessage']}"


def _invoke_config(function: LambdaFunction) -> dict[str, Any]:
    configs = getattr(function, "event_invoke_config", None) or []
    return dict(configs[0].config) if configs else {}


def _send_to_failure_destination(
    function: LambdaFunction,
    config: dict[str, Any],
    body: str | bytes | None,
    result: Invocation,
    invoke_count: int,
    condition: str,
) -> None:
    """The invocation record AWS sends an on-failure destination (Lambda developer guide,
    "Capturing records of asynchronous invocations")."""
    destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
        "Destination"
    )
    if not destination:
        log.warning(
            "async event for %s dropped after %d attempts", function.function_name, invoke_count
        )
        return
    record = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": result.request_id,
            "functionArn": f"{function.function_arn}:{result.executed_version}",
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": decode_event(body),
        "responseContext": {
            "statusCode": 200,
            "executedVersion": result.executed_version,
            "functionError": result.function_error,
        },
        "responsePayload": json.loads(result.payload or b"null"),
    }
    _, _, service, region, account_id, name = str(destination).split(":", 5)
    if service != "sqs":
        log.warning("on-failure destination %s is not an SQS queue; not delivered", destination)
        return
    try:
        sqs_backends[account_id][region].send_message(name, json.dumps(record))
    except Exception:
        # As on AWS, a destination that cannot take the record loses it (and says so).
        log.exception(
            "could not deliver the failed event of %s to %s", function.function_name, destination
        )


# --- per-invocation environment ------------------------------------------------------------

_environ_overlay: ContextVar[Mapping[str, str] | None] = ContextVar(
    "sandbox_lambda_environ", default=None
)


def _lambda_environ(function: LambdaFunction, context: LambdaContext) -> dict[str, str]:
    variables = {str(k): str(v) for k, v in (function.environment_vars or {}).items()}
    # Reserved variables the Lambda runtime sets; a function's own variables cannot override them.
    variables.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": context.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": context.function_version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(context.memory_limit_in_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": context.log_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": context.log_stream_name,
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "_HANDLER": function.handler or "",
            **_role_session(function),
        }
    )
    return variables


_sessions: dict[tuple[str, str, str], AssumedRole] = {}
_sessions_lock = threading.Lock()


def _role_session(function: LambdaFunction) -> dict[str, str]:
    """The function role's credentials, as Lambda hands them to a function in its variables.

    One session per function and role, kept while the local STS knows it (a reset forgets it),
    so a warm execution environment keeps its variables. Requests signed with it are the
    role's (`sandbox.aws.calls` counts what each role called; moto does not enforce IAM).
    """
    role = str(function.role or "")
    if not role.startswith("arn:"):
        return {}
    sts = sts_backends[function.account_id][get_partition(function.region)]
    key = (function.account_id, function.function_name, role)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None or sts.get_assumed_role_from_access_key(session.access_key_id) is None:
            session = _sessions[key] = sts.assume_role(
                region_name=function.region,
                role_session_name=function.function_name[:64],
                role_arn=role,
                policy="",
                duration=43_200,
                external_id="",
            )
    return {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
    }


class _OverlayEnviron(os._Environ[str]):
    """`os.environ` that shows the current invocation's variables first (no overlay: unchanged)."""

    def __getitem__(self, key: str) -> str:
        overlay = _environ_overlay.get()
        if overlay is not None and key in overlay:
            return overlay[key]
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[str]:
        overlay = _environ_overlay.get()
        if overlay is None:
            yield from super().__iter__()
            return
        yield from overlay
        for key in super().__iter__():
            if key not in overlay:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict[str, str]:
        return dict(self)


def install_environ_overlay() -> None:
    """Swap `os.environ`'s class in place, so `from os import environ` holders see it too."""
    if type(os.environ) is not _OverlayEnviron:
        os.environ.__class__ = _OverlayEnviron
