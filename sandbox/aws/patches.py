"""Every run-time patch the sandbox applies to moto 5.2.5 (site-packages stays untouched).

- SSM: the six Automation operations (api.py) become methods of moto's SSM response class.
- IAM: the policy simulator's two operations (simulator.py) become methods of moto's IAM
  response class.
- Lambda: every invocation path (Invoke API, SNS, EventBridge, Step Functions, the engine)
  ends in `LambdaFunction.invoke`, which now runs the handler in-process (lambdas.py).
- SNS -> Lambda subscriptions: asynchronous, with the real topic ARN and subject in the event
  (moto sends placeholders such as "arn:aws:sns:EXAMPLE" and delivers synchronously).
- EventBridge -> Lambda targets: moto 5.2.5 raises NotImplementedError for them; schedule
  rules (no event pattern) match no events (moto matches every event against them).
- Step Functions: sfn_fix.py.
- DynamoDB: requests run one at a time, so a conditional write is atomic as on AWS (moto checks
  the condition and writes without a lock: two threads can both win an exactly-once claim),
  and no request reads an item while another changes it (moto's UpdateItem deep-copies the
  item before its write, and a copy racing a write raised "dictionary changed size during
  iteration" under the concurrency test).
- Backend lookup: moto takes one process-wide lock on every request to find the account's
  backend, even when it exists; with many threads that lock convoy dominated the sandbox's
  time under load. Existing backends are now found without it.
- Request dispatch: for every HTTP request moto lists its own package directory (one `isdir`
  per service, under the dispatcher's lock) and reflects over the response class's methods.
  Neither changes while the process runs; both are now computed once.
- Step Functions definitions: moto validates each new state machine by parsing its definition
  with the ASL grammar (ANTLR, about a tenth of a second for Signoff's parent). A definition it
  accepted once is not parsed again; one it refused is refused again, with the same error.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import threading
import urllib.parse
import uuid
from datetime import UTC, datetime
from typing import Any

import moto.backends
import moto.core.responses
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.awslambda.utils import get_backend as lambda_backend
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.base_backend import BackendDict
from moto.dynamodb.responses import DynamoHandler
from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.iam.responses import IamResponse
from moto.sns.models import Subscription
from moto.ssm.responses import SimpleSystemManagerResponse
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.utilities.arns import parse_arn

from sandbox.aws import lambdas, sfn_fix, simulator
from sandbox.aws.api import OPERATIONS
from sandbox.aws.clock import clock
from sandbox.aws.engine import engine

log = logging.getLogger(__name__)

_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Apply every patch once; later calls do nothing."""
    global _installed
    with _install_lock:
        if _installed:
            return
        for name, operation in OPERATIONS.items():
            setattr(SimpleSystemManagerResponse, name, operation)
        for name, operation in simulator.OPERATIONS.items():
            setattr(IamResponse, name, operation)
        LambdaFunction.invoke = _invoke
        LambdaResponse.setup_class = _lambda_setup_class
        # With `lambda.use_docker: False` moto swaps in a backend that returns canned
        # results; route it through the same in-process invocation.
        LambdaSimpleBackend.invoke = LambdaBackend.invoke
        Subscription.publish = _subscription_publish
        Rule.send_to_targets = _send_to_targets
        sfn_fix.apply()
        DynamoHandler.call_action = _serialized(DynamoHandler.call_action)
        BackendDict.__getitem__ = _backend_for_account
        StepFunctionsParserBackend._validate_definition = staticmethod(_validate_definition)
        moto.backends.list_of_moto_modules = _moto_modules
        moto.core.responses.method_names_from_class = _method_names
        lambdas.install_environ_overlay()
        clock.subscribe(engine.check_timers)
        _installed = True


# --- Step Functions ------------------------------------------------------------------------

_parse_definition = StepFunctionsParserBackend._validate_definition


@functools.lru_cache(maxsize=256)
def _validate_definition(definition: str) -> None:
    """moto's validation, remembered for the definitions it accepted (a refusal raises, and
    lru_cache keeps no result for a call that raised)."""
    _parse_definition(definition=definition)


# --- Backends ------------------------------------------------------------------------------

_create_backend = BackendDict.__getitem__


def _backend_for_account(backends: BackendDict[Any], account_id: str) -> Any:
    """moto's lookup, minus its lock when the account's backend already exists.

    moto creates the account's backend and registers the dict (for reset) under one lock; once
    both are done, nothing about them changes until a reset, so reading needs no lock.
    """
    found = dict.get(backends, account_id)
    if found is not None and backends._id in _registered:
        return found
    created = _create_backend(backends, account_id)
    _registered.add(backends._id)
    return created


_registered: set[str] = set()


# --- Request dispatch --------------------------------------------------------------------------

_list_moto_modules = moto.backends.list_of_moto_modules
_method_names_from_class = moto.core.responses.method_names_from_class


@functools.cache
def _moto_modules() -> frozenset[str]:
    # The dispatcher asks `host in list_of_moto_modules()`; the package's folders are fixed.
    return frozenset(_list_moto_modules())


@functools.cache
def _method_names(clazz: type) -> frozenset[str]:
    # moto asks `action in method_names_from_class(cls)` on every request.
    return frozenset(_method_names_from_class(clazz))


# --- DynamoDB ------------------------------------------------------------------------------

# Reentrant: a request whose handling makes another (a stream feeding a Lambda) must not wait
# on itself.
_dynamodb_requests = threading.RLock()


def _serialized(call: Any) -> Any:
    @functools.wraps(call)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _dynamodb_requests:
            return call(*args, **kwargs)

    return locked


# --- Lambda ----------------------------------------------------------------------------------


def _header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _invoke(
    self: LambdaFunction, body: str | bytes | None, request_headers: Any, response_headers: Any
) -> bytes:
    invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
    if invocation_type == "Event":
        # Asynchronous invocation: AWS queues the event and answers 202 at once.
        lambdas.invoke_async(self, body)
        return b""
    if invocation_type == "DryRun":
        return b""
    result = lambdas.invoke(self, body)
    response_headers["x-amz-executed-version"] = result.executed_version
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    return result.payload


_lambda_setup = LambdaResponse.setup_class


def _lambda_setup_class(
    self: LambdaResponse,
    request: Any,
    full_url: str | None = None,
    headers: Any = None,
    use_raw_body: bool | None = None,
) -> None:
    # An Invoke body is the event, not a form: moto would URL-decode the whole payload as a
    # query string first (a Slack event is kilobytes of %-escapes), then not use the result.
    path = getattr(request, "path", None) or urllib.parse.urlsplit(str(request.url)).path
    if use_raw_body is None and str(path).endswith("/invocations"):
        use_raw_body = True
    _lambda_setup(self, request, full_url, headers, use_raw_body)


def _function_for(arn: str) -> LambdaFunction | None:
    parts = arn.split(":")
    region, account_id, name = parts[3], parts[4], parts[6]
    qualifier = parts[7] if len(parts) > 7 else None
    try:
        return lambda_backend(account_id, region).get_function(name, qualifier)
    except Exception:
        log.warning("no Lambda function %s to deliver to", arn)
        return None


# --- SNS -> Lambda ---------------------------------------------------------------------------

_moto_subscription_publish = Subscription.publish


def _subscription_publish(
    self: Subscription,
    message: str,
    message_id: str,
    subject: str | None = None,
    message_attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    message_structure: str | None = None,
) -> None:
    if self.protocol != "lambda":
        _moto_subscription_publish(
            self,
            message,
            message_id,
            subject=subject,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            message_structure=message_structure,
        )
        return
    matcher = self._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return
    if message_structure == "json":
        message = self._parse_message_structure(message, self.protocol)
    function = _function_for(self.endpoint)
    if function is None:
        return
    region = self.topic_arn.split(":")[3]
    # The event Lambda receives from an SNS subscription (Lambda developer guide).
    record = {
        "EventVersion": "1.0",
        "EventSubscriptionArn": self.arn,
        "EventSource": "aws:sns",
        "Sns": {
            "SignatureVersion": "1",
            "Timestamp": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "Signature": "EXAMPLE",
            "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService.pem",
            "MessageId": message_id,
            "Message": message,
            "MessageAttributes": message_attributes or {},
            "Type": "Notification",
            "UnsubscribeUrl": (
                f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={self.arn}"
            ),
            "TopicArn": self.topic_arn,
            "Subject": subject,
        },
    }
    # SNS invokes subscribed functions asynchronously.
    lambdas.invoke_async(function, json.dumps({"Records": [record]}))


# --- EventBridge -> Lambda -------------------------------------------------------------------

_moto_send_to_targets = Rule.send_to_targets


def _send_to_targets(
    self: Rule, original_event: dict[str, Any], transform_input: bool = True
) -> None:
    if self.scheduled_expression and not self.event_pattern._pattern:
        # A schedule rule has no event pattern and never matches events (moto matches all).
        return
    lambda_targets = [t for t in self.targets if parse_arn(t["Arn"]).service == "lambda"]
    deliveries: list[tuple[LambdaFunction, str]] = []
    if (
        lambda_targets
        and self.state == "ENABLED"
        and self.event_pattern.matches_event(original_event)
    ):
        for target in lambda_targets:
            function = _function_for(target["Arn"])
            if function is not None:
                payload = _target_input(target, original_event, transform_input)
                deliveries.append((function, json.dumps(payload)))
    others = [t for t in self.targets if t not in lambda_targets]
    if others:
        # moto's own delivery (SQS, logs, archives, buses) for the remaining targets.
        rest = copy.copy(self)
        rest.targets = others
        _moto_send_to_targets(rest, original_event, transform_input)
    for function, payload in deliveries:
        # EventBridge invokes Lambda targets asynchronously.
        lambdas.invoke_async(function, payload)


def _target_input(target: dict[str, Any], event: dict[str, Any], transform_input: bool) -> Any:
    if transform_input and target.get("Input"):
        return json.loads(target["Input"])
    transformer = target.get("InputTransformer")
    if transform_input and transformer:
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
    return {
        "version": "0",
        "id": event.get("id") or str(uuid.uuid4()),
        "detail-type": event["detail-type"],
        "source": event["source"],
        "account": event["account"],
        "time": _event_time(event.get("time")),
        "region": event["region"],
        "resources": event.get("resources", []),
        "detail": event.get("detail", {}),
    }


def _event_time(value: Any) -> str:
    if isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        return str(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
