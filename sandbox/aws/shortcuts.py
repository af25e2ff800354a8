"""The two calls every Slack click makes of the local AWS, answered without moto's dispatch.

A click's lazy check costs a Lambda `Invoke` (InvocationType Event: Bolt starting the check)
and an SSM `GetAutomationExecution` (the check). Through moto's domain dispatcher, Flask, and
its response class finding the operation, most of the local AWS's CPU time for each went to
reaching the handler. Here the request is recognised by its path or `X-Amz-Target` and given to
the same handler moto would call: the Lambda backend's `invoke` (with the sandbox's patch) and
the engine's `get`. The account comes from the access key, as moto finds it, and the region
from the signature's credential scope. A role session its role does not allow the call to
(`sandbox.aws.access`) goes moto's way too, where it is refused.

Anything else goes moto's way, unchanged: another operation, a qualifier, a request without a
signature, and any error (an unknown function, a malformed id), which moto then answers as it
always did. Neither handler changes anything before it can fail, so answering such a request
again through moto does nothing twice.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from typing import Any

from moto.awslambda.utils import get_backend as lambda_backend
from moto.iam.models import get_account_id_from
from moto.ssm.models import ssm_backends
from moto.utilities.utils import get_partition
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_input_stream

from sandbox.aws import access
from sandbox.aws.api import JSON_CONTENT_TYPE, json_text, requested_execution_id
from sandbox.aws.engine import engine
from sandbox.aws.principals import signing_scope

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
_GET_EXECUTION = "AmazonSSM.GetAutomationExecution"


def answer(environ: dict[str, Any]) -> Response | None:
    """The response to a request this module answers itself; None: let moto answer it.

    When None, `environ` reads as it arrived (a body read here is put back).
    """
    if environ.get("REQUEST_METHOD") != "POST" or environ.get("QUERY_STRING"):
        return None
    path = str(environ.get("PATH_INFO", ""))
    queued = environ.get("HTTP_X_AMZ_INVOCATION_TYPE") == "Event"
    invoke = INVOKE_PATH.match(path) if queued else None
    read = path == "/" and environ.get("HTTP_X_AMZ_TARGET") == _GET_EXECUTION
    scope = signing_scope(environ)
    if not (invoke or read) or scope is None:
        return None
    body = get_input_stream(environ).read()
    try:
        account, region = get_account_id_from(scope["key"]), scope["region"]
        if invoke is not None:
            name = invoke["name"]
            if _permits(scope["key"], account, region, "lambda:InvokeFunction", name, "function"):
                return _queue_invocation(account, region, name, body)
        else:
            wanted = _requested(body)
            if _permits(
                scope["key"],
                account,
                region,
                "ssm:GetAutomationExecution",
                wanted,
                "automation-execution",
            ):
                return _execution(account, region, wanted)
    except Exception:  # noqa: S110  (moto's way answers the same request, with its error)
        pass
    # moto's way answers it, errors and refusals included, as without this module.
    environ["wsgi.input"] = io.BytesIO(body)
    return None


def _permits(key: str, account: str, region: str, action: str, name: str, kind: str) -> bool:
    service = action.split(":", 1)[0]
    separator = ":" if service == "lambda" else "/"
    arn = f"arn:{get_partition(region)}:{service}:{region}:{account}:{kind}{separator}{name}"
    return access.permits(account, region, key, action, arn)


def _requested(body: bytes) -> str:
    request = json.loads(body or b"{}")
    return requested_execution_id(request if isinstance(request, dict) else {})


def _queue_invocation(account: str, region: str, name: str, body: bytes) -> Response:
    response_headers: dict[str, str] = {}
    backend = lambda_backend(account, region)
    backend.invoke(name, None, body, {"X-Amz-Invocation-Type": "Event"}, response_headers)
    return _response(202, b"", {**response_headers, "Content-Type": "application/json"})


def _execution(account: str, region: str, wanted: str) -> Response:
    found = engine.get(ssm_backends[account][region], wanted)
    text = json_text({"AutomationExecution": found})
    return _response(200, text.encode(), {"Content-Type": JSON_CONTENT_TYPE})


def _response(status: int, body: bytes, headers: dict[str, str]) -> Response:
    headers = {**headers, "x-amzn-RequestId": uuid.uuid4().hex, "server": "amazon.com"}
    return Response(body, status=status, headers=headers)
