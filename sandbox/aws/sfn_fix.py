"""The one place that works around moto 5.2.5's Step Functions interpreter for nested flows.

moto ships LocalStack's ASL interpreter with the boto request/response normalisation stubbed
out (`StateTaskService._normalise_parameters` / `_normalise_response` do nothing). For the
`states:startExecution` integrations that means:

1. the state's PascalCase `Parameters` (`StateMachineArn`, `Input`) reach botocore unchanged,
   which fails with KeyError 'StateMachineArn' (parameter validation is off in its client);
2. the result keeps boto's camelCase (`output`), while AWS returns `Output`, which the seed's
   `"OutputPath": "$.Output"` reads.

Both are restored here for the Step Functions integration only, using the helpers moto kept
(`_to_boto_request`, `_from_boto_response`). Separately, moto's interpreter backend names an
execution started without `name` literally "None", so a second child start of the same state
machine collides; AWS generates a UUID. And its SendTaskFailure response handler passes only
`error` to the backend, dropping `cause`, which AWS keeps in the failed task's event.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from botocore import xform_name
from botocore.model import OperationModel
from botocore.session import get_session
from moto.core.responses import EmptyResult
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_sfn as sfn_integration,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

# The `arn:aws:states:::states:*` integration (moto types are opaque to mypy here).
SfnIntegration = Any


@functools.cache
def _operation(service: str, action: str) -> OperationModel | None:
    model = get_session().get_service_model(service)
    for name in model.operation_names:
        if action in (name, xform_name(name)):
            return model.operation_model(name)
    return None


_moto_normalise_parameters = sfn_integration.StateTaskServiceSfn._normalise_parameters
_moto_start_execution = StepFunctionsParserBackend.start_execution


def _normalise_parameters(
    self: SfnIntegration,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    _moto_normalise_parameters(self, parameters, boto_service_name, service_action_name)
    operation = _operation(
        self._get_boto_service_name(boto_service_name),
        self._get_boto_service_action(service_action_name),
    )
    if operation is not None and operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(
    self: SfnIntegration,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    operation = _operation(
        self._get_boto_service_name(boto_service_name),
        self._get_boto_service_action(service_action_name),
    )
    if operation is not None and operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


def _start_execution(
    self: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: str | None = None,
    trace_header: str | None = None,
) -> Any:
    return _moto_start_execution(
        self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
    )


def _send_task_failure(self: Any) -> Any:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def apply() -> None:
    integration = sfn_integration.StateTaskServiceSfn
    integration._normalise_parameters = _normalise_parameters
    integration._normalise_response = _normalise_response
    StepFunctionsParserBackend.start_execution = _start_execution
    StepFunctionResponse.send_task_failure = _send_task_failure
