"""The SSM Automation engine: executions, their steps, signals, timeouts and status events.

Concurrency follows AWS: API calls only record a request (start, signal, stop) and schedule
the execution; a background worker advances it. One execution advances on one worker at a
time; different executions advance in parallel. The engine lock guards state only and is
never held while a Lambda runs, SNS publishes or EventBridge routes, since any of those may
call SSM back.
"""

from __future__ import annotations

import enum
import logging
import threading
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from moto.ssm.models import SimpleSystemManagerBackend
from moto.utilities.utils import get_partition

from sandbox.aws import events
from sandbox.aws.activity import TrackedPool
from sandbox.aws.clock import Clock, clock
from sandbox.aws.documents import (
    Runbook,
    UnresolvedVariable,
    bind_parameters,
    interpolate,
    parse_runbook,
)
from sandbox.aws.errors import (
    AutomationDefinitionNotFound,
    AutomationDefinitionVersionNotFound,
    AutomationExecutionNotFound,
    IdempotentParameterMismatch,
    InvalidAutomationSignal,
    InvalidAutomationStatusUpdate,
    ValidationError,
)
from sandbox.aws.models import TERMINAL, AutomationExecution, Decision, StepExecution
from sandbox.aws.principals import approver_matches, parse_principal
from sandbox.aws.steps import ACTIONS, Outcome, StepContext, failed

log = logging.getLogger(__name__)

Work = tuple[StepExecution, Callable[[], Outcome | None]]


class _Flow(enum.Enum):
    CONTINUE = "continue"  # the step finished: the execution can move on at once


class ExecutionStore:
    """The executions of one account and region; lives on moto's SSM backend, so a moto reset
    (a fresh `mock_aws`, `/moto-api/reset`) forgets them too."""

    def __init__(self) -> None:
        self.executions: dict[str, AutomationExecution] = {}
        self.client_tokens: dict[str, str] = {}


@dataclass(frozen=True)
class StartRequest:
    account_id: str
    region: str
    access_key_id: str
    executed_by: str
    document_name: str
    document_version: str | None
    parameters: Mapping[str, list[str]] | None
    mode: str
    client_token: str | None


class Engine:
    """Runs Automation executions for every account and region moto serves.

    The API methods (start, get, list_*, signal, stop) are what the SSM response methods call;
    `check_timers` is what the clock, the server's ticker and `settle()` call.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._stores: weakref.WeakSet[ExecutionStore] = weakref.WeakSet()
        self._pool = TrackedPool("sandbox-ssm-engine", workers=8)
        self._scheduling = threading.Lock()
        self._running: set[str] = set()
        self._again: set[str] = set()

    # --- API ---------------------------------------------------------------------------------

    def start(self, backend: SimpleSystemManagerBackend, request: StartRequest) -> str:
        runbook = _runbook(backend, request.document_name, request.document_version)
        parameters = bind_parameters(runbook, request.parameters)
        if request.mode != "Auto":
            raise ValidationError("The sandbox runs automations in Auto mode only.")
        with self._lock:
            store = self._store(backend)
            token = request.client_token
            if token and token in store.client_tokens:
                existing = store.executions[store.client_tokens[token]]
                # ClientToken makes StartAutomationExecution idempotent for the same request.
                if (existing.runbook.name, existing.parameters.wire) != (
                    runbook.name,
                    parameters.wire,
                ):
                    raise IdempotentParameterMismatch(
                        "The ClientToken was already used with different parameters."
                    )
                return existing.execution_id
            execution = AutomationExecution(
                execution_id=str(uuid.uuid4()),
                account_id=request.account_id,
                region=request.region,
                partition=get_partition(request.region),
                runbook=runbook,
                parameters=parameters,
                executed_by=request.executed_by,
                access_key_id=request.access_key_id,
                start_time=self._clock.now(),
                mode=request.mode,
                client_token=token,
                next_step=runbook.steps[0].name,
            )
            store.executions[execution.execution_id] = execution
            if token:
                store.client_tokens[token] = execution.execution_id
        self._schedule(execution)
        return execution.execution_id

    def get(self, backend: SimpleSystemManagerBackend, execution_id: str) -> dict[str, Any]:
        with self._lock:
            return self._find(backend, execution_id).describe()

    def list_metadata(self, backend: SimpleSystemManagerBackend) -> list[dict[str, Any]]:
        with self._lock:
            return [execution.metadata() for execution in self._store(backend).executions.values()]

    def list_steps(
        self, backend: SimpleSystemManagerBackend, execution_id: str
    ) -> list[dict[str, Any]]:
        with self._lock:
            return [step.describe() for step in self._find(backend, execution_id).steps]

    def signal(
        self,
        backend: SimpleSystemManagerBackend,
        execution_id: str,
        signal_type: str,
        payload: Mapping[str, list[str]] | None,
        caller_arn: str,
    ) -> None:
        """Record an Approve/Reject from `caller_arn`; the worker applies it asynchronously."""
        with self._lock:
            execution = self._find(backend, execution_id)
            if signal_type not in ("Approve", "Reject"):
                raise InvalidAutomationSignal(
                    f"Signal type {signal_type} is not supported: the sandbox engine accepts "
                    "Approve and Reject."
                )
            step = execution.current
            if (
                execution.status in TERMINAL
                or execution.cancel_requested
                or step is None
                or step.action != "aws:approve"
                or step.status != "Waiting"
            ):
                raise InvalidAutomationSignal(
                    f"Automation execution {execution_id} is not waiting for an approval "
                    f"(status {execution.status})."
                )
            now = self._clock.now()
            expired = step.deadline is not None and now >= step.deadline
            if expired or ACTIONS["aws:approve"].check(StepContext(execution, step, now)):
                self._schedule(execution)
                raise InvalidAutomationSignal(
                    f"Step {step.name} of automation execution {execution_id} is no longer "
                    "waiting for approval decisions."
                )
            caller = parse_principal(caller_arn)
            approvers = step.inputs.get("Approvers") or []
            if isinstance(approvers, str):
                approvers = [approvers]
            if not any(
                approver_matches(str(entry), caller, execution.account_id) for entry in approvers
            ):
                raise InvalidAutomationSignal(
                    f"{caller_arn} is not an approver of step {step.name} of automation "
                    f"execution {execution_id}."
                )
            if any(decision.approver == caller_arn for decision in step.decisions):
                raise InvalidAutomationSignal(
                    f"{caller_arn} has already sent a decision for step {step.name} of "
                    f"automation execution {execution_id}."
                )
            comment = "\n".join((payload or {}).get("Comment", []))
            step.decisions.append(Decision(caller_arn, signal_type, now, comment))
            step.outputs["ApproverDecisions"] = [d.to_output() for d in step.decisions]
        self._schedule(execution)

    def stop(self, backend: SimpleSystemManagerBackend, execution_id: str, stop_type: str) -> None:
        if stop_type != "Cancel":
            raise ValidationError("The sandbox supports StopAutomationExecution Type=Cancel only.")
        with self._lock:
            execution = self._find(backend, execution_id)
            if execution.status in TERMINAL or execution.cancel_requested:
                raise InvalidAutomationStatusUpdate(
                    f"Automation execution {execution_id} cannot be stopped: its status is "
                    f"{execution.status}."
                )
            execution.cancel_requested = True
            self._set_status(execution, "Cancelling", self._clock.now())
        self._schedule(execution)

    def check_timers(self) -> None:
        """Schedule every execution whose waiting step's timeout or sleep has come due."""
        now = self._clock.now()
        with self._lock:
            due = [
                execution
                for store in list(self._stores)
                for execution in store.executions.values()
                if execution.current is not None
                and any(
                    moment is not None and now >= moment
                    for moment in (execution.current.deadline, execution.current.wake_at)
                )
            ]
        for execution in due:
            self._schedule(execution)

    # --- lookups -----------------------------------------------------------------------------

    def _store(self, backend: SimpleSystemManagerBackend) -> ExecutionStore:
        store: ExecutionStore | None = getattr(backend, "_sandbox_automation", None)
        if store is None:
            store = ExecutionStore()
            backend._sandbox_automation = store
            self._stores.add(store)
        return store

    def _find(self, backend: SimpleSystemManagerBackend, execution_id: str) -> AutomationExecution:
        execution = self._store(backend).executions.get(execution_id)
        if execution is None:
            raise AutomationExecutionNotFound(
                f"There is no automation execution information for the requested automation "
                f"execution ID {execution_id}."
            )
        return execution

    # --- the worker --------------------------------------------------------------------------

    def _schedule(self, execution: AutomationExecution) -> None:
        key = execution.execution_id
        with self._scheduling:
            if key in self._running:
                self._again.add(key)
                return
            self._running.add(key)
        self._pool.submit(self._run, execution)

    def _run(self, execution: AutomationExecution) -> None:
        key = execution.execution_id
        while True:
            try:
                self._drive(execution)
            except Exception:
                log.exception("SSM engine failed while advancing %s", key)
            with self._scheduling:
                if key in self._again:
                    self._again.discard(key)
                    continue
                self._running.discard(key)
                return

    def _drive(self, execution: AutomationExecution) -> None:
        result: tuple[StepExecution, Outcome] | None = None
        while True:
            with self._lock:
                work = self._advance(execution, result)
                outbox, execution.outbox = execution.outbox, []
            events.put_events(execution.account_id, execution.region, outbox)
            if work is None:
                return
            step, task = work
            try:
                outcome = task()
            except Exception as exc:
                log.exception("step %s of %s failed", step.name, execution.execution_id)
                outcome = failed(f"{type(exc).__name__}: {exc}")
            result = (step, outcome) if outcome is not None else None

    def _advance(
        self, execution: AutomationExecution, result: tuple[StepExecution, Outcome] | None
    ) -> Work | None:
        now = self._clock.now()
        if result is not None:
            step, outcome = result
            if step is execution.current and not execution.cancel_requested:
                applied = self._apply(execution, step, outcome, now)
                if applied is not _Flow.CONTINUE:
                    return applied
        while True:
            if execution.status in TERMINAL:
                return None
            if execution.cancel_requested:
                self._cancel(execution, now)
                return None
            if execution.status == "Pending":
                self._set_status(execution, "InProgress", now)
            current = execution.current
            if current is None:
                if execution.next_step is None:
                    status = "Failed" if execution.critical_failure else "Success"
                    self._end(execution, status, now)
                    return None
                step = self._enter_step(execution, execution.next_step, now)
                outcome = self._begin(execution, step, now)
            else:
                step = current
                checked = self._check(execution, step, now)
                if checked is None:
                    return None
                outcome = checked
            applied = self._apply(execution, step, outcome, now)
            if applied is not _Flow.CONTINUE:
                return applied

    def _enter_step(
        self, execution: AutomationExecution, name: str, now: datetime
    ) -> StepExecution:
        spec = execution.runbook.steps[execution.runbook.index_of(name)]
        step = StepExecution(spec=spec, step_execution_id=str(uuid.uuid4()), start_time=now)
        execution.steps.append(step)
        execution.current = step
        self._set_step_status(execution, step, "InProgress", now)
        timeout = step.timeout_seconds
        if timeout is not None:
            step.deadline = now + timedelta(seconds=timeout)
        return step

    def _begin(self, execution: AutomationExecution, step: StepExecution, now: datetime) -> Outcome:
        step.attempts += 1
        try:
            step.inputs = interpolate(dict(step.spec.inputs), execution.variables())
        except UnresolvedVariable as exc:
            return failed(str(exc))
        action = ACTIONS.get(step.action)
        if action is None:
            return failed(f"Action {step.action} is not supported by the sandbox engine.")
        try:
            return action.begin(StepContext(execution, step, now))
        except Exception as exc:
            log.exception("action %s could not start", step.action)
            return failed(f"{type(exc).__name__}: {exc}")

    def _check(
        self, execution: AutomationExecution, step: StepExecution, now: datetime
    ) -> Outcome | None:
        action = ACTIONS.get(step.action)
        outcome = action.check(StepContext(execution, step, now)) if action else None
        if outcome is None and step.deadline is not None and now >= step.deadline:
            # "If the automation step reaches the timeout value before receiving all required
            # approval decisions, then the step and the automation stop running and return a
            # status of Timed Out." (aws:approve); other waiting steps time out the same way.
            return Outcome(
                "TimedOut", message=f"Step timed out after {step.timeout_seconds} seconds."
            )
        return outcome

    def _apply(
        self, execution: AutomationExecution, step: StepExecution, outcome: Outcome, now: datetime
    ) -> Work | _Flow | None:
        if outcome.status in ("InProgress", "Waiting"):
            step.outputs.update(outcome.outputs)
            step.values.update(outcome.values)
            self._set_step_status(execution, step, outcome.status, now)
            if outcome.status == "Waiting":
                self._set_status(execution, "Waiting", now)
            return (step, outcome.then) if outcome.then else None
        if (
            outcome.status == "Failed"
            and outcome.retryable
            and step.attempts < step.spec.max_attempts
        ):
            # maxAttempts: AWS retries a failed step before applying onFailure.
            return self._apply(execution, step, self._begin(execution, step, now), now)
        self._complete(execution, step, outcome, now)
        return _Flow.CONTINUE

    def _complete(
        self, execution: AutomationExecution, step: StepExecution, outcome: Outcome, now: datetime
    ) -> None:
        step.outputs.update(outcome.outputs)
        step.values.update(outcome.values)
        step.end_time = now
        if outcome.status != "Success":
            step.failure_message = outcome.message
        self._set_step_status(execution, step, outcome.status, now)
        execution.current = None
        if execution.status == "Waiting":
            self._set_status(execution, "InProgress", now)
        spec = step.spec
        if outcome.status == "Success":
            execution.next_step = _following(execution.runbook, step)
            return
        if spec.is_critical:
            # isCritical (default true): a failed critical step makes the run Failed even when
            # onFailure lets it go on.
            execution.critical_failure = True
            execution.failure_message = step.failure_message
        if spec.on_failure == "Continue":
            execution.next_step = _following(execution.runbook, step)
        elif spec.on_failure.startswith("step:"):
            execution.next_step = spec.on_failure.removeprefix("step:")
        else:  # Abort, the default
            status = "TimedOut" if outcome.status == "TimedOut" else "Failed"
            self._end(execution, status, now, step.failure_message)

    def _cancel(self, execution: AutomationExecution, now: datetime) -> None:
        step = execution.current
        if step is not None and step.status not in TERMINAL:
            step.end_time = now
            self._set_step_status(execution, step, "Cancelled", now)
        execution.current = None
        self._end(execution, "Cancelled", now)

    def _end(
        self, execution: AutomationExecution, status: str, now: datetime, message: str | None = None
    ) -> None:
        execution.end_time = now
        execution.next_step = None
        if message is not None:
            execution.failure_message = message
        self._set_status(execution, status, now)

    def _set_status(self, execution: AutomationExecution, status: str, now: datetime) -> None:
        if execution.status != status:
            execution.status = status
            execution.outbox.append(events.execution_event(execution, now))

    def _set_step_status(
        self, execution: AutomationExecution, step: StepExecution, status: str, now: datetime
    ) -> None:
        if step.status != status:
            step.status = status
            execution.outbox.append(events.step_event(execution, step, now))


def _following(runbook: Runbook, step: StepExecution) -> str | None:
    spec = step.spec
    if spec.is_end:
        return None
    if spec.next_step:
        return spec.next_step
    index = runbook.index_of(spec.name) + 1
    return runbook.steps[index].name if index < len(runbook.steps) else None


def _runbook(backend: SimpleSystemManagerBackend, name: str, version: str | None) -> Runbook:
    # DocumentName may be the document's ARN (arn:aws:ssm:region:account:document/Name).
    name = name.split(":document/", 1)[-1]
    documents = backend._documents.get(name)
    if documents is None:
        raise AutomationDefinitionNotFound(f"Automation definition {name} was not found.")
    if version in (None, "", "$DEFAULT"):
        document = documents.get_default_version()
    elif version == "$LATEST":
        document = documents.get_latest_version()
    else:
        document = documents.find_by_version(str(version))
        if document is None:
            raise AutomationDefinitionVersionNotFound(
                f"Version {version} of automation definition {name} was not found."
            )
    if document.document_type != "Automation":
        raise AutomationDefinitionNotFound(f"{name} is not an Automation document.")
    return parse_runbook(name, str(document.document_version), document.content_json)


engine = Engine(clock)
