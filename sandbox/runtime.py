"""`Sandbox`: the whole product on one machine — local AWS, a Slack you can click in, the bot.

All on loopback, from infra/template.yaml itself:
- the local AWS (`sandbox.aws.server.SandboxServer`: moto + the SSM Automation engine), with
  the template deployed into it as a CloudFormation stack (`sandbox.provision`);
- the Slack emulator (`sandbox.slack.emulator.SlackEmulator`, in a process of its own:
  `sandbox.slack.process.SlackProcess`) whose request URL is
- the stack's Function URL, served on loopback (`sandbox.function_url.FunctionUrl`): HTTP in,
  a payload-2.0 event through Lambda's Invoke API, the slack_events handler, as on AWS;
- the functions run from their `Handler` strings, each in execution environments of its own
  (`sandbox.aws.environments`: warm processes, as on Lambda) or, with `functions_in_process`,
  in this process (a debugger's breakpoints work); with the template's environment plus
  SLACK_API_URL (the emulator), and sandbox Slack credentials in the template's Slack secret,
  where the functions read them as deployed ones do;
- the cast (`sandbox.demo`): identities, dave's IAM user, channel routes;
- schedule rules, which moto stores but never fires, fired at their rate.

`Sandbox(...).start()` / `.stop()` (or `with`); port 0 picks a free port, for tests.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.awslambda.utils import get_backend as lambda_backend
from moto.moto_api._internal.models import moto_api_backend

import sandbox.aws
from sandbox import demo, provision
from sandbox.aws.environments import EnvironmentPool
from sandbox.aws.server import SandboxServer
from sandbox.function_url import FunctionUrl
from sandbox.slack.process import SlackProcess
from sandbox.slack.server import BackgroundServer
from sandbox.template import TEMPLATE_PATH

log = logging.getLogger(__name__)

REGION = "us-east-1"
# Sandbox placeholders, obviously not real: the emulator is the only party that sees them.
BOT_TOKEN = "xoxb-sandbox-not-a-real-token"
SIGNING_SECRET = "sandbox-signing-secret-not-real"
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
SLACK_EVENTS_PATH = "/slack/events"

# In-process calls go to moto through its stubber, whatever AWS_ENDPOINT_URL says.
LOCAL = Config(ignore_configured_endpoint_urls=True, retries={"mode": "standard"})  # type: ignore[call-arg]

Progress = Callable[[str], None]


def _quiet(line: str) -> None:
    log.info(line)


def local_session() -> boto3.Session:
    """A session answered by the sandbox's moto in this process (use `LOCAL` for clients)."""
    return boto3.Session(
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        region_name=REGION,
    )


@contextlib.contextmanager
def serve_function_url(
    invoker: Any, function_name: str, host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """Serve a function's Function URL on loopback; yields its base URL. `invoker` runs the
    function (`sandbox.aws.lambdas.UrlInvoker`, or a boto3 Lambda client)."""
    server = BackgroundServer(FunctionUrl(invoker, function_name), host, port)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@dataclass(frozen=True)
class FunctionUrlBinding:
    function_name: str
    aws_url: str  # what the stack says (…lambda-url.<region>.on.aws)
    local_url: str  # where it is served here


class Sandbox:
    """Start, use, stop. Everything it starts, `stop()` stops, in reverse order."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        aws_port: int = 4566,
        slack_port: int = 3000,
        bot_port: int = 3001,
        *,
        template_path: Path | str = TEMPLATE_PATH,
        log_level: str = "WARNING",
        functions_in_process: bool = False,
        progress: Progress = _quiet,
    ) -> None:
        self.host = host
        self._ports = (aws_port, slack_port, bot_port)
        self.template_path = template_path
        self.log_level = log_level
        self.functions_in_process = functions_in_process
        self.environments: EnvironmentPool | None = None
        self._progress = progress
        self._stack_exit = contextlib.ExitStack()
        self.session = local_session()
        self.aws: SandboxServer | None = None
        self.slack: SlackProcess | None = None
        self.stack: provision.Stack | None = None
        self.function_urls: list[FunctionUrlBinding] = []
        self.notes: list[str] = []
        self.started_in = 0.0
        self._handler_modules: set[str] = set()

    # -- addresses ----------------------------------------------------------------------------

    @property
    def aws_url(self) -> str:
        assert self.aws is not None, "the sandbox is not running"
        return self.aws.url

    @property
    def slack_url(self) -> str:
        assert self.slack is not None, "the sandbox is not running"
        return self.slack.url

    @property
    def request_url(self) -> str:
        """Slack's request URL: the slack_events Function URL, served on loopback."""
        assert self.function_urls, "the sandbox is not running"
        return self.function_urls[0].local_url + SLACK_EVENTS_PATH

    def client(self, service: str) -> Any:
        """An in-process client of the sandbox's AWS."""
        return self.session.client(service, config=LOCAL)  # type: ignore[call-overload]

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Sandbox:
        began = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def _start(self) -> None:
        aws_port, slack_port, bot_port = self._ports
        with self._step("local AWS (moto + SSM Automation engine)"):
            # This process's moto is the sandbox's: start from an empty account.
            moto_api_backend.reset()
            sandbox.aws.reset()
            self.aws = SandboxServer(self.host, aws_port).start()
            self._stack_exit.callback(self._stop_aws)
            if not self.functions_in_process:
                # Closed after the drain and Slack's stop (callbacks run backwards), before AWS.
                self.environments = EnvironmentPool(self.aws.url)
                sandbox.aws.lambdas.use_environments(self.environments)
                self._stack_exit.callback(self._stop_environments)
        with self._step("Slack emulator"):
            self.slack = SlackProcess(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
            self.slack.start(self.host, slack_port)
            self._stack_exit.callback(self.slack.stop)
            # Stopping runs backwards: no new clicks or schedules, then this, then Slack, AWS.
            self._stack_exit.callback(self._drain)
        # The template's own knob for the functions' log level (INFO is chatty in a terminal).
        parameters = {**demo.stack_parameters(self.slack.workspace), "LogLevel": self.log_level}
        with self._step(f"stack {provision.STACK_NAME} from {Path(self.template_path).name}"):
            self.stack = provision.deploy(
                self.session, parameters, template_path=self.template_path, client_config=LOCAL
            )
        with self._step("demo people, dave's and erin's IAM users, key approvers"):
            self.stack = demo.seed(
                self.session, self.stack, self.slack.workspace, parameters, client_config=LOCAL
            )
        with self._step("functions pointed at the emulator"):
            self._configure_functions()
        with self._step("Function URL on loopback"):
            self._serve_function_urls(bot_port)
            self.slack.configure(bot_url=self.request_url)
        schedules = ScheduleRunner(self.client("events"), self.client("lambda"))
        schedules.start()
        self.aws.add_route("POST", "reconcile", lambda body: {"counts": self.reconcile()})
        self._stack_exit.callback(schedules.stop)
        self.notes.append(
            provision.substitutes_line(
                self.stack, *(f"{rule} → fired by the sandbox" for rule in schedules.describe())
            )
        )

    def stop(self) -> None:
        self._stack_exit.close()
        self.function_urls = []

    def _drain(self) -> None:
        # Executions still waiting (a flow's task token) end as a user's StopExecution would,
        # and in-flight invocations (a lazy listener, a retry) finish while Slack and AWS are up.
        self._stop_executions()
        with contextlib.suppress(TimeoutError):
            sandbox.aws.settle(timeout=5)

    def _stop_executions(self) -> None:
        if self.stack is None:
            return
        sfn = self.client("stepfunctions")
        for machine in self.stack.of_type("AWS::StepFunctions::StateMachine"):
            running = sfn.list_executions(
                stateMachineArn=machine.physical_id, statusFilter="RUNNING"
            )["executions"]
            for execution in running:
                with contextlib.suppress(sfn.exceptions.ExecutionDoesNotExist):
                    sfn.stop_execution(
                        executionArn=execution["executionArn"], cause="the sandbox stopped"
                    )

    def _stop_environments(self) -> None:
        sandbox.aws.lambdas.use_environments(None)
        if self.environments is not None:
            self.environments.close()

    def _stop_aws(self) -> None:
        if self.aws is not None:
            self.aws.stop()
        sandbox.aws.reset()
        _cold_start(self._handler_modules)
        moto_api_backend.reset()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reconcile(self) -> dict[str, Any]:
        """Run a reconciler pass now, as its schedule would, and wait for it: its counts."""
        assert self.stack is not None, "the sandbox is not running"
        answer = self.client("lambda").invoke(
            FunctionName=self.stack.outputs["ReconcileFunctionArn"], Payload=b"{}"
        )
        body = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            raise RuntimeError(f"the reconciler failed: {body}")
        return dict(body)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the engine and every asynchronous invocation (lazy listeners…) is done."""
        # Work started by one round (an SNS notice from an engine step) finishes in the next.
        for _ in range(2):
            sandbox.aws.settle(timeout)

    @contextlib.contextmanager
    def _step(self, what: str) -> Iterator[None]:
        began = time.monotonic()
        yield
        self._progress(f"  ✓ {what} ({time.monotonic() - began:.1f} s)")

    # -- the steps ----------------------------------------------------------------------------

    def _configure_functions(self) -> None:
        """The template's environment, plus where Slack is, and the sandbox's Slack credentials
        (`provision.configure_functions`, as the integration tests' world does)."""
        assert self.stack is not None
        assert self.slack is not None
        configured = provision.configure_functions(
            self.session,
            self.stack,
            {
                "SLACK_API_URL": self.slack.api_url,
                # The reconciler's "now" is the engine's clock, which tests advance.
                "SIGNOFF_CLOCK_URL": f"{self.aws_url}/_sandbox/clock",
            },
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            client_config=LOCAL,
        )
        if self.functions_in_process:
            self._handler_modules.update(f.handler.rpartition(".")[0] for f in configured)
        # New functions start cold: no services cached from another sandbox in this process.
        _cold_start(self._handler_modules)

    def _serve_function_urls(self, first_port: int) -> None:
        assert self.stack is not None
        for index, url in enumerate(self.stack.of_type("AWS::Lambda::Url")):
            function_name = url.physical_id.rsplit(":", 1)[-1]
            account_region = _account_region(url.physical_id)
            aws_url = lambda_backend(*account_region).get_function_url_config(function_name).url
            invoker = sandbox.aws.lambdas.UrlInvoker(*account_region)
            port = first_port if index == 0 else 0
            local = self._stack_exit.enter_context(
                serve_function_url(invoker, function_name, self.host, port)
            )
            self.function_urls.append(FunctionUrlBinding(function_name, aws_url, local))
        if not self.function_urls:
            raise provision.ProvisionError("the template has no Function URL for Slack to call")


def _account_region(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[4], parts[3]


def _cold_start(modules: Iterable[str]) -> None:
    """Forget what handler modules cached at their last cold start (settings, clients, app)."""
    for name in modules:
        if not name:
            continue
        module = importlib.import_module(name)
        for value in vars(module).values():
            if getattr(value, "__module__", None) == name and hasattr(value, "cache_clear"):
                value.cache_clear()


# --- schedule rules ----------------------------------------------------------------------------

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleRunner:
    """Fires EventBridge schedule rules (`rate(...)`) at their Lambda targets, in real time."""

    def __init__(self, events: Any, lam: Any) -> None:
        self._events = events
        self._lambda = lam
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._rules = self._schedules()

    def _schedules(self) -> list[tuple[dict[str, Any], float]]:
        found = []
        for rule in self._events.list_rules()["Rules"]:
            match = _RATE.match(rule.get("ScheduleExpression", ""))
            if match and rule.get("State") == "ENABLED":
                unit = match.group(2).rstrip("s")
                found.append((rule, int(match.group(1)) * _SECONDS[unit]))
        return found

    def describe(self) -> list[str]:
        expressions = sorted({str(r["ScheduleExpression"]) for r, _ in self._rules})
        return [f"Events::Rule {e}" for e in expressions]

    def start(self) -> None:
        if self._rules:
            self._thread = threading.Thread(target=self._run, name="sandbox-schedules", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        due = {r["Arn"]: time.monotonic() + every for r, every in self._rules}
        while not self._stopping.wait(max(0.1, min(due.values()) - time.monotonic())):
            for rule, every in self._rules:
                if time.monotonic() >= due[rule["Arn"]]:
                    due[rule["Arn"]] += every
                    self._fire(rule)

    def _fire(self, rule: dict[str, Any]) -> None:
        # The event EventBridge sends for a schedule (EventBridge user guide, "Scheduled Event").
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": rule["Arn"].split(":")[4],
            "time": sandbox.aws.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": rule["Arn"].split(":")[3],
            "resources": [rule["Arn"]],
            "detail": {},
        }
        try:
            targets = self._events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            for target in targets:
                if ":lambda:" in target["Arn"]:
                    self._lambda.invoke(
                        FunctionName=target["Arn"],
                        InvocationType="Event",
                        Payload=target.get("Input") or json.dumps(event),
                    )
        except Exception:
            log.exception("schedule %s failed to fire", rule["Name"])
