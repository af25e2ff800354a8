"""Hardening fixtures: a spy on every AWS call, the Slack endpoint called as Lambda calls it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.client import BaseClient
from botocore.exceptions import ReadTimeoutError
from botocore.handlers import BUILTIN_HANDLERS
from botocore.retries.standard import ExponentialBackoff
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber

from tests.support.signed import LambdaContext, function_url_event
from tests.support.world import World

Endpoint = Callable[..., dict[str, Any]]


@dataclass
class AwsCalls:
    """Every AWS API call any boto3 client in this process made (the bot's, Bolt's, the test's)."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, service: str, operation: str) -> None:
        with self._lock:
            self.calls.append((service, operation))

    def count(self) -> int:
        with self._lock:
            return len(self.calls)

    def since(self, mark: int) -> list[tuple[str, str]]:
        with self._lock:
            return self.calls[mark:]


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> AwsCalls:
    """A spy on botocore itself: no client, session or thread can call AWS unseen."""
    spy = AwsCalls()
    original = BaseClient._make_api_call

    def spied(client: BaseClient, operation_name: str, api_params: Any) -> Any:
        spy.add(client.meta.service_model.service_name, operation_name)
        return original(client, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spied)
    return spy


@pytest.fixture
def slack_endpoint(world: World) -> Endpoint:
    """`handlers.slack_events.lambda_handler` called with the event a Function URL would build."""
    import handlers.slack_events

    def call(
        body: str | bytes, headers: dict[str, str], method: str = "POST", **event: Any
    ) -> dict[str, Any]:
        request = function_url_event(body, headers, method)
        request.update(event)
        response: dict[str, Any] = handlers.slack_events.lambda_handler(request, LambdaContext())
        return response

    return call


@dataclass
class AwsFault:
    """One injected failure: `count` matching requests answer `code` instead of AWS's answer."""

    service: str  # botocore's service id: "ssm", "sts", "dynamodb"
    operation: str  # "SendAutomationSignal", "PutItem", ...
    code: str
    status: int = 400
    count: int = 1
    table: str | None = None  # DynamoDB: only requests naming this table
    pk_prefix: str | None = None  # DynamoDB: only requests whose item's pk starts with this
    after_processing: bool = False  # AWS did the work, then the answer was lost (a 5xx/timeout)
    timeout: bool = False  # no answer at all: botocore's ReadTimeoutError instead of `code`
    skip: int = 0  # let this many matching requests through first
    seen: int = 0

    def matches(self, service: str, operation: str, body: bytes) -> bool:
        if self.count <= 0 or (service, operation) != (self.service, self.operation):
            return False
        if self.table is None and self.pk_prefix is None:
            return True
        request = json.loads(body or b"{}")
        # The item's key: `Key` (GetItem, UpdateItem, DeleteItem) or the `Item` a PutItem writes.
        key = request.get("Key") or request.get("Item") or {}
        pk = str(key.get("pk", {}).get("S", ""))
        return (self.table is None or request.get("TableName") == self.table) and (
            self.pk_prefix is None or pk.startswith(self.pk_prefix)
        )

    def take(self) -> bool:
        """Count one matching request; True when this one fails."""
        if self.skip > 0:
            self.skip -= 1
            return False
        self.count -= 1
        self.seen += 1
        return True

    def response(self, request: AWSPreparedRequest) -> AWSResponse:
        message = f"injected by the hardening tests ({self.code})"
        if self.service == "sts":  # the query protocol answers in XML
            body = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>{self.code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>0</RequestId></ErrorResponse>"
            )
            headers = {"Content-Type": "text/xml"}
        else:
            body = json.dumps({"__type": self.code, "message": message})
            headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": self.code}
        return AWSResponse(request.url, self.status, headers, MockRawResponse(body))


class AwsFaults:
    """Fault injection for every boto3 session created while installed (the bot's, at cold start).

    A `before-send` hook that stands in for moto's: a faulted request gets the error (and, unless
    `after_processing`, never reaches moto), any other goes to moto as usual. botocore's retry
    logic sees the errors exactly as it would see AWS's, so its standard-mode retries apply.
    """

    def __init__(self) -> None:
        self.faults: list[AwsFault] = []
        self._lock = threading.Lock()

    def add(self, service: str, operation: str, code: str, **kwargs: Any) -> AwsFault:
        fault = AwsFault(service, operation, code, **kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def __call__(
        self, event_name: str, request: AWSPreparedRequest, **kwargs: Any
    ) -> AWSResponse | None:
        _, service, operation = event_name.split(".", 2)
        with self._lock:
            fault = next(
                (f for f in self.faults if f.matches(service, operation, request.body)), None
            )
            if fault is not None and not fault.take():
                fault = None
        if fault is None or fault.after_processing:
            answer: AWSResponse | None = botocore_stubber(event_name=event_name, request=request)
            if fault is None:
                return answer
        if fault.timeout:
            raise ReadTimeoutError(endpoint_url=request.url)
        return fault.response(request)


@pytest.fixture
def aws_faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsFaults]:
    """Inject AWS errors into the bot's clients; botocore's retry back-off shortened to 10 ms."""
    faults = AwsFaults()
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.01)
    # botocore calls every before-send handler, so moto's must make way, not just come second.
    moto = ("before-send", botocore_stubber)
    position = BUILTIN_HANDLERS.index(moto)
    BUILTIN_HANDLERS[position] = ("before-send", faults)
    try:
        yield faults
    finally:
        BUILTIN_HANDLERS[BUILTIN_HANDLERS.index(("before-send", faults))] = moto
