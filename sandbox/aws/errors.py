"""SSM Automation errors, named exactly like the shapes in botocore's ssm model.

moto serializes a `ServiceException` with its `code` as the error type, so boto3 raises
`ssm.exceptions.<code>` just as it would against AWS.
"""

from __future__ import annotations

from moto.core.exceptions import ServiceException


class AutomationError(ServiceException):  # type: ignore[misc]
    code = "InternalServerError"

    def __init__(self, message: str) -> None:
        super().__init__(self.code, message)


class AutomationDefinitionNotFound(AutomationError):
    code = "AutomationDefinitionNotFoundException"


class AutomationDefinitionVersionNotFound(AutomationError):
    code = "AutomationDefinitionVersionNotFoundException"


class InvalidAutomationExecutionParameters(AutomationError):
    code = "InvalidAutomationExecutionParametersException"


class AutomationExecutionNotFound(AutomationError):
    code = "AutomationExecutionNotFoundException"


class InvalidAutomationSignal(AutomationError):
    code = "InvalidAutomationSignalException"


class InvalidAutomationStatusUpdate(AutomationError):
    code = "InvalidAutomationStatusUpdateException"


class IdempotentParameterMismatch(AutomationError):
    code = "IdempotentParameterMismatch"


class InvalidFilterKey(AutomationError):
    code = "InvalidFilterKey"


class InvalidFilterValue(AutomationError):
    code = "InvalidFilterValue"


class InvalidNextToken(AutomationError):
    code = "InvalidNextToken"


class ValidationError(AutomationError):
    code = "ValidationException"
