"""Who called what: each HTTP request to the local AWS as (caller, IAM action), counted.

moto does not enforce IAM, so a function whose role lacks a permission works in the sandbox and
fails on AWS. The functions run with their own roles' credentials (`sandbox.aws.lambdas`), and
this log names the caller of each request (by its access key, as `sts:GetCallerIdentity`
would) and the action it needed (the signing service and the operation), so a test can hold
each role to what its function actually called (`GET /_sandbox/calls`).
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

from moto.iam.models import get_account_id_from
from werkzeug.wsgi import get_input_stream

from sandbox.aws.principals import caller_arn, signing_scope
from sandbox.aws.shortcuts import INVOKE_PATH


class CallLog:
    """(caller ARN, action) -> how many requests, since the sandbox started or was cleared."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        # Access key -> caller: a key names one identity for good, and moto looks it up by
        # walking every session and user.
        self._callers: dict[str, str] = {}
        self._lock = threading.Lock()

    def record(self, environ: dict[str, Any]) -> None:
        """Count the request `environ` describes; a body read here is put back for moto."""
        scope = signing_scope(environ)
        if scope is None:
            return  # unsigned: the control API, or a request moto refuses anyway
        action = _action(environ, scope["service"])
        key = scope["key"]
        caller = self._callers.get(key)
        if caller is None:
            try:
                caller = caller_arn(get_account_id_from(key), scope["region"], key)
            except Exception:  # an unknown key is moto's to refuse, not this log's
                caller = f"unknown key {key}"
            else:
                self._callers[key] = caller
        with self._lock:
            self._counts[(caller, action)] += 1

    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"caller": caller, "action": action, "count": count}
                for (caller, action), count in sorted(self._counts.items())
            ]

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


def _action(environ: dict[str, Any], service: str) -> str:
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:  # the JSON protocols: "DynamoDB_20120810.PutItem"
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    method, path = str(environ.get("REQUEST_METHOD", "")), str(environ.get("PATH_INFO", ""))
    if method == "POST" and INVOKE_PATH.match(path):
        # The one REST operation a function calls (the Slack function invoking itself).
        return "lambda:InvokeFunction"
    # The query protocol (STS, IAM): the operation is the Action of the form body.
    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    form = parse_qs(body.decode("utf-8", "replace")) if body else {}
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    name = (form.get("Action") or query.get("Action") or [""])[0]
    return f"{service}:{name}" if name else f"{service}:{method} {path}"


calls = CallLog()
