"""A Lambda Function URL on loopback: HTTP in, a payload-2.0 event to the function, HTTP out.

Slack's request URL in production is a Function URL in front of `handlers/slack_events.py`; here
the same handler gets the same event. The sandbox runs it the way the Lambda service does for a
URL, directly (`sandbox.aws.lambdas.UrlInvoker`), not through the public Invoke API; Bolt's lazy
listeners still re-invoke the function asynchronously through that API, as they do on AWS.
Anything with an Invoke-shaped `invoke(FunctionName=..., Payload=...)` can stand in (a boto3
Lambda client does).
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)


class FunctionUrl:
    """WSGI app that turns each request into a Function URL event for one Lambda function."""

    def __init__(self, invoker: Any, function_name: str) -> None:
        self._lambda = invoker
        self._function = function_name

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self._invoke(request)
        return response(environ, start_response)

    def _invoke(self, request: Request) -> Response:
        body = request.get_data()
        try:
            text, is_base64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode("ascii"), True
        now = time.time()
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": request.path,
            "rawQueryString": request.query_string.decode("latin-1"),
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "requestContext": {
                "http": {
                    "method": request.method,
                    "path": request.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": request.remote_addr or "127.0.0.1",
                    "userAgent": request.user_agent.string,
                },
                "requestId": str(uuid.uuid4()),
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "body": text,
            "isBase64Encoded": is_base64,
        }
        result = self._lambda.invoke(FunctionName=self._function, Payload=json.dumps(event))
        payload = json.loads(result["Payload"].read() or b"null")
        if result.get("FunctionError"):
            # What a Function URL answers when the function raised.
            log.error("function %s failed: %s", self._function, payload)
            return Response('{"message":"Internal Server Error"}', 502, mimetype="application/json")
        return _response(payload)


def _response(payload: Any) -> Response:
    if not isinstance(payload, dict) or "statusCode" not in payload:
        # A Function URL treats any other return value as a 200 JSON body.
        return Response(json.dumps(payload), 200, mimetype="application/json")
    body = payload.get("body") or ""
    data = base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode()
    response = Response(data, int(payload["statusCode"]))
    for key, value in (payload.get("headers") or {}).items():
        response.headers[key] = value if isinstance(value, str) else ",".join(value)
    return response
