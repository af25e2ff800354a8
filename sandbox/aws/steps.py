"""The Automation actions the engine runs: aws:approve, aws:invokeLambdaFunction,
aws:executeAwsApi and aws:sleep.

An action's `begin` runs under the engine lock and must not do I/O: it returns an `Outcome`
whose `then` callable performs the I/O (invoking a Lambda, calling an API, publishing to SNS)
after the engine has released its lock, because a handler may call SSM back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from moto.awslambda.utils import get_backend as lambda_backend

from sandbox.aws import events, lambdas
from sandbox.aws.models import AutomationExecution, StepExecution
from sandbox.aws.routing import local_client

MAX_APPROVERS = 10  # SSM user guide, aws:approve
MAX_MESSAGE = 4096
MAX_SLEEP = timedelta(days=7)  # SSM user guide, aws:sleep


@dataclass(frozen=True)
class Outcome:
    """A step's next status; `then` is I/O to run outside the engine lock afterwards.

    `then` returns the step's following outcome, or None when the step simply stays as it is
    (an approval notice that was published fine).
    """

    status: str  # InProgress | Waiting (still running) or Success | Failed | TimedOut
    outputs: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    then: Callable[[], Outcome | None] | None = None
    retryable: bool = False


def failed(message: str, **kwargs: Any) -> Outcome:
    return Outcome("Failed", message=message, **kwargs)


@dataclass(frozen=True)
class StepContext:
    execution: AutomationExecution
    step: StepExecution
    now: datetime


class Action(Protocol):
    def begin(self, ctx: StepContext) -> Outcome: ...

    def check(self, ctx: StepContext) -> Outcome | None: ...


class Approve:
    """aws:approve: wait for M distinct listed principals to approve; one Reject rejects."""

    def begin(self, ctx: StepContext) -> Outcome:
        inputs = ctx.step.inputs
        approvers = inputs.get("Approvers")
        if isinstance(approvers, str):
            approvers = [approvers]
        if not approvers or not isinstance(approvers, list):
            return failed("Approvers is required and must list at least one principal.")
        if len(approvers) > MAX_APPROVERS:
            return failed(f"The maximum number of approvers is {MAX_APPROVERS}.")
        try:
            minimum = int(inputs.get("MinRequiredApprovals", 1))
        except (TypeError, ValueError):
            return failed("MinRequiredApprovals must be an integer.")
        if not 1 <= minimum <= len(approvers):
            return failed(
                "MinRequiredApprovals must be positive and can't exceed the number of approvers."
            )
        message = str(inputs.get("Message", ""))
        if len(message) > MAX_MESSAGE:
            return failed(f"The maximum message length is {MAX_MESSAGE} characters.")
        topic = inputs.get("NotificationArn") or None
        then = _notify(ctx.execution, ctx.step, str(topic), message) if topic else None
        return Outcome("Waiting", outputs=_approval_outputs("Waiting", ctx.step), then=then)

    def check(self, ctx: StepContext) -> Outcome | None:
        step = ctx.step
        rejection = next((d for d in step.decisions if d.status == "Reject"), None)
        if rejection is not None:
            return failed(
                f"The approval request was rejected by {rejection.approver}.",
                outputs=_approval_outputs("Rejected", step),
            )
        approvals = {d.approver for d in step.decisions if d.status == "Approve"}
        if len(approvals) >= int(step.inputs.get("MinRequiredApprovals", 1)):
            return Outcome("Success", outputs=_approval_outputs("Approved", step))
        return None


def _approval_outputs(status: str, step: StepExecution) -> dict[str, list[str]]:
    return {
        "ApprovalStatus": [status],
        "ApproverDecisions": [decision.to_output() for decision in step.decisions],
    }


def _notify(
    execution: AutomationExecution, step: StepExecution, topic_arn: str, message: str
) -> Callable[[], Outcome | None]:
    subject, body = events.approval_notice(execution, step, message)

    def publish() -> Outcome | None:
        try:
            events.publish(topic_arn, subject, body)
        except Exception as exc:
            return failed(f"Failed to publish the approval notice to {topic_arn}: {exc}")
        return None

    return publish


class InvokeLambdaFunction:
    """aws:invokeLambdaFunction: a function error fails the step."""

    def begin(self, ctx: StepContext) -> Outcome:
        inputs = ctx.step.inputs
        name = inputs.get("FunctionName")
        if not name:
            return failed("FunctionName is required.")
        # Payload is JSON text (spliced from `{{ }}` references, it breaks on a quote);
        # InputPayload is a mapping, serialised here, each value arriving as it was. Given both,
        # "InputPayload takes precedence and the Payload value isn't used"
        # (docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-lamb.html).
        mapping = inputs.get("InputPayload")
        if mapping is not None and not isinstance(mapping, dict):
            return failed("InputPayload must be a mapping.")
        payload = json.dumps(mapping) if mapping is not None else inputs.get("Payload", "")
        if not isinstance(payload, str):
            payload = json.dumps(payload)
        invocation_type = str(inputs.get("InvocationType", "RequestResponse"))
        qualifier = inputs.get("Qualifier")
        execution = ctx.execution

        def invoke() -> Outcome:
            backend = lambda_backend(execution.account_id, execution.region)
            try:
                function = backend.get_function(str(name), qualifier)
            except Exception:
                return failed(f"Function not found: {name}", retryable=True)
            if invocation_type == "Event":
                lambdas.invoke_async(function, payload)
                return Outcome("Success", outputs={"StatusCode": ["202"]})
            if invocation_type == "DryRun":
                return Outcome("Success", outputs={"StatusCode": ["204"]})
            result = lambdas.invoke(function, payload)
            text = result.payload.decode("utf-8")
            outputs = {"StatusCode": ["200"], "Payload": [text]}
            if result.function_error:
                outputs["FunctionError"] = [result.function_error]
                return failed(
                    f"Lambda function {name} returned an error: {_error_summary(text)}",
                    outputs=outputs,
                    retryable=True,
                )
            return Outcome("Success", outputs=outputs, values={"Payload": text, "StatusCode": 200})

        return Outcome("InProgress", then=invoke)

    def check(self, ctx: StepContext) -> Outcome | None:
        return None


def _error_summary(payload: str) -> str:
    try:
        document = json.loads(payload)
        return f"{document.get('errorType')}: {document.get('errorMessage')}"
    except (ValueError, AttributeError):
        return payload


class ExecuteAwsApi:
    """aws:executeAwsApi: call `Service`/`Api` with the other inputs, against the local moto."""

    def begin(self, ctx: StepContext) -> Outcome:
        inputs = dict(ctx.step.inputs)
        service = inputs.pop("Service", None)
        api = inputs.pop("Api", None)
        if not service or not api:
            return failed("Service and Api are required.")
        execution = ctx.execution
        specs = ctx.step.spec.outputs

        def call() -> Outcome:
            try:
                client = local_client(
                    str(service).lower(), execution.region, execution.access_key_id
                )
                operation = _method_name(client, str(api))
                response = getattr(client, operation)(**inputs)
            except ClientError as exc:
                return failed(str(exc), retryable=True)
            except (BotoCoreError, ValueError, RuntimeError) as exc:
                return failed(f"{service}.{api}: {exc}")
            response.pop("ResponseMetadata", None)
            document = json.loads(json.dumps(response, default=str))
            outputs: dict[str, list[str]] = {}
            values: dict[str, Any] = {}
            for spec in specs:
                try:
                    value = select(document, spec.selector)
                except LookupError:
                    continue
                values[spec.name], outputs[spec.name] = _typed_output(value, spec.type)
            return Outcome("Success", outputs=outputs, values=values)

        return Outcome("InProgress", then=call)

    def check(self, ctx: StepContext) -> Outcome | None:
        return None


def _method_name(client: Any, api: str) -> str:
    by_api = {name: method for method, name in client.meta.method_to_api_mapping.items()}
    if api in by_api:
        return str(by_api[api])
    if api in client.meta.method_to_api_mapping:
        return api
    raise ValueError(f"unknown API {api}")


_SELECTOR_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*)\]")


def select(document: Any, selector: str) -> Any:
    """A small JSONPath: `$`, `.key`, `[n]` and `[*]` (which maps over a list)."""
    if not selector.startswith("$"):
        raise LookupError(selector)
    values, rest, many = [document], selector[1:], False
    while rest:
        match = _SELECTOR_TOKEN.match(rest)
        if not match:
            raise LookupError(selector)
        rest = rest[match.end() :]
        key, index = match.group(1), match.group(2)
        found: list[Any] = []
        for value in values:
            if key is not None and isinstance(value, dict) and key in value:
                found.append(value[key])
            elif index == "*" and isinstance(value, list):
                found.extend(value)
                many = True
            elif (
                index is not None
                and index != "*"
                and isinstance(value, list)
                and int(index) < len(value)
            ):
                found.append(value[int(index)])
        if not found:
            raise LookupError(selector)
        values = found
    return values if many else values[0]


def _typed_output(value: Any, kind: str) -> tuple[Any, list[str]]:
    if kind == "StringList":
        items = value if isinstance(value, list) else [value]
        texts = [item if isinstance(item, str) else json.dumps(item) for item in items]
        return texts, texts
    if kind == "MapList":
        items = value if isinstance(value, list) else [value]
        return items, [json.dumps(item) for item in items]
    if kind == "StringMap":
        return value, [json.dumps(value)]
    if kind == "Integer":
        return int(value), [str(int(value))]
    if kind == "Boolean":
        flag = value if isinstance(value, bool) else str(value).lower() == "true"
        return flag, ["true" if flag else "false"]
    text = value if isinstance(value, str) else json.dumps(value)
    return text, [text]


_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """ISO-8601 durations as aws:sleep takes them (PT5M, PT10S, P1DT2H)."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"invalid ISO-8601 duration {text!r}")
    parts = {key: float(value) for key, value in match.groupdict().items() if value}
    return timedelta(
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


class Sleep:
    """aws:sleep: InProgress until the engine clock passes the wake-up time."""

    def begin(self, ctx: StepContext) -> Outcome:
        inputs = ctx.step.inputs
        try:
            if "Duration" in inputs:
                duration = parse_duration(str(inputs["Duration"]))
                if duration > MAX_SLEEP:
                    return failed("The maximum sleep duration is 7 days.")
                ctx.step.wake_at = ctx.now + duration
            elif "Timestamp" in inputs:
                stamp = datetime.fromisoformat(str(inputs["Timestamp"]).replace("Z", "+00:00"))
                # A timestamp without an offset is UTC, like every time in SSM.
                ctx.step.wake_at = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
            else:
                return failed("aws:sleep needs Duration or Timestamp.")
        except ValueError as exc:
            return failed(str(exc))
        return Outcome("InProgress")

    def check(self, ctx: StepContext) -> Outcome | None:
        wake_at = ctx.step.wake_at
        if wake_at is not None and ctx.now >= wake_at:
            return Outcome("Success")
        return None


ACTIONS: dict[str, Action] = {
    "aws:approve": Approve(),
    "aws:invokeLambdaFunction": InvokeLambdaFunction(),
    "aws:executeAwsApi": ExecuteAwsApi(),
    "aws:sleep": Sleep(),
}
