"""The Lambda Python runtime's side of an invocation: the context, the handler, the error document.

Shared by both ways the sandbox runs a function: in the caller's thread (`sandbox.aws.lambdas`)
and in an execution environment of its own (`sandbox.aws.environments`), where this module is the
process's main program (`python -m sandbox.lambda_runtime`). So it imports nothing heavy: an
environment's cold start is the handler's imports, as on AWS, not moto's.

The worker speaks one JSON document a line: on stdin `{"event": "<body>", "context": {...}}`, on
the original stdout `{"payload": "<json>", "error": null | "<errorType>"}`. Whatever the handler
prints or logs goes to stderr (on AWS: the function's CloudWatch log stream).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: float = field(default=3.0, repr=False)
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))

    def to_json(self) -> dict[str, Any]:
        fields = asdict(self)
        del fields["_started"]
        return fields


class HandlerUnavailable(Exception):
    """The `Handler` setting names nothing callable; `error_type` is the runtime's own."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def import_handler(spec: str) -> Handler:
    """`handlers.approval_notice.lambda_handler` -> that function, imported now."""
    module_name, _, attribute = spec.rpartition(".")
    if not module_name:
        raise HandlerUnavailable("Runtime.MalformedHandlerName", f"Bad handler '{spec}'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        # The Python runtime's wording, so a misconfigured template reads the same as on AWS.
        raise HandlerUnavailable(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise HandlerUnavailable(
            "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'"
        )
    return handler  # type: ignore[no-any-return]


def decode_event(body: str | bytes | None) -> Any:
    if body is None or body in ("", b""):
        return {}
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    try:
        return json.loads(body)
    except ValueError:
        return body


def error_document(error_type: str, message: str, request_id: str, stack: list[str]) -> bytes:
    """The Python runtime's error document for an uncaught exception."""
    document = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack,
    }
    return json.dumps(document).encode("utf-8")


def run(
    handler: Handler, body: str | bytes | None, context: LambdaContext
) -> tuple[bytes, str | None]:
    """Call the handler; (the response payload, None) or (an error document, its error type)."""
    request_id = context.aws_request_id
    try:
        result = handler(decode_event(body), context)
    except Exception as exc:
        stack = traceback.format_tb(exc.__traceback__)
        return error_document(type(exc).__name__, str(exc), request_id, stack), "Unhandled"
    try:
        return json.dumps(result).encode("utf-8"), None
    except (TypeError, ValueError) as exc:
        message = f"Unable to marshal response: {exc}"
        return error_document("Runtime.MarshalError", message, request_id, []), "Unhandled"


# --- an execution environment's main program ---------------------------------------------------


def serve(requests: BinaryIO, replies: BinaryIO, handler_spec: str) -> None:
    """Answer invocations until stdin closes. The handler is imported on the first one (the
    environment's cold start), and an import failure is that invocation's error, as on AWS."""
    handler: Handler | None = None
    for line in requests:
        request = json.loads(line)
        context = LambdaContext(**request["context"])
        try:
            handler = handler or import_handler(handler_spec)
        except HandlerUnavailable as exc:
            payload = error_document(exc.error_type, str(exc), context.aws_request_id, [])
            reply = {"payload": payload.decode("utf-8"), "error": "Unhandled"}
        else:
            payload, error = run(handler, request["event"], context)
            reply = {"payload": payload.decode("utf-8"), "error": error}
        replies.write(json.dumps(reply).encode("utf-8") + b"\n")
        replies.flush()


def main() -> None:
    # The replies get stdout's pipe to themselves; prints and logs go where stderr goes.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, replies, os.environ["_HANDLER"])


if __name__ == "__main__":
    main()
