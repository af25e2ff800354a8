"""Tiny Lambda handlers for the execution-environment tests (stdlib only: quick cold starts)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any


def describe(event: Any, context: Any) -> dict[str, Any]:
    """What the function saw: its event, process, variables and context."""
    print("a line on stdout must not break the runtime's replies")
    return {
        "event": event,
        "pid": os.getpid(),
        "environ": dict(os.environ),
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "log_stream": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }


def fail(event: Any, context: Any) -> None:
    raise ValueError(f"refused {event!r}")


def sleep(event: Any, context: Any) -> dict[str, Any]:
    time.sleep(float(event["seconds"]))
    return {"pid": os.getpid()}


def leave(event: Any, context: Any) -> None:
    sys.stdout.flush()
    os._exit(3)


def unserializable(event: Any, context: Any) -> object:
    return object()
