"""Cold start of every Lambda: a fresh process imports the handler and serves one event.

For each module in handlers/, a new Python process imports it and calls `lambda_handler` once
with a realistic event (tests/fixtures/bench_*.json, filled in with ids from a running sandbox),
exactly what Lambda does on a cold start. Its wall time and peak RSS are compared with a fresh
process that only runs `import boto3, slack_bolt, aws_lambda_powertools`, started just before
it; each handler's ratio is the median of its runs' ratios. The runs go round by round (every
row once a round), so a slow stretch of the machine touches every row. The reconciler has two
rows: `reconcile` repairs a lost notice (its pass posts the card), `reconcile_steady` finds
everything in order, as most of its passes do. Both find as many finished access-key requests
in the key sweep's window as there are runs (nine by default), all made before the first round.
Targets (DESIGN.md section 7): <= 1.25x the time and <= 1.3x the memory of that baseline.

Nothing real is called: the functions get the environment the template gives them in the
sandbox (tables, the Slack secret's ARN, routes…) with AWS_ENDPOINT_URL pointing at the
sandbox's local AWS (a `signoff sandbox` in a child process) and SLACK_API_URL at its emulator.
The first event's calls (Secrets Manager, SSM, DynamoDB, Slack) are part of what is measured.

    .venv/bin/python bench/cold_start.py              # 9 runs of each
    .venv/bin/python bench/cold_start.py --runs 3 --only slack_events
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _sandbox import REPO, RunningSandbox, sandbox_from_args

sys.path.insert(0, str(REPO))
from bot.config import SLACK_POST_SPACING
from tests.support.signed import function_url_event, payload_body, signed_headers

FIXTURES = REPO / "tests" / "fixtures"
TARGET_TIME, TARGET_MEMORY = 1.25, 1.3
BASELINE = "import boto3, slack_bolt, aws_lambda_powertools"
# Seconds between measured runs: the bot's default spacing of posts in a channel, and a margin.
POST_SPACING = SLACK_POST_SPACING.total_seconds() + 0.05

# Peak RSS as the process itself saw it: VmHWM belongs to the address space exec() creates, so
# the parent's pages (which a forked child shares until exec) are not counted, unlike ru_maxrss.
PEAK_RSS = """
def peak_rss_mb():
    with open("/proc/self/status") as status:
        line = next(l for l in status if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
"""
BASELINE_CHILD = (
    "import time\nbegan = time.perf_counter()\n"
    + BASELINE
    + "\nimported = time.perf_counter()\n"
    + PEAK_RSS
    + "import json\nprint(json.dumps({'import_ms': (imported - began) * 1000, 'event_ms': 0,"
    " 'rss_mb': peak_rss_mb(), 'done_at': time.time()}))\n"
)

# What runs in the fresh process: import the handler, serve one event, report the split.
CHILD = (
    PEAK_RSS
    + """
import json, sys, time
began = time.perf_counter()
import importlib
module = importlib.import_module(sys.argv[1])
imported = time.perf_counter()

class Context:
    function_name = sys.argv[3]
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + sys.argv[3]
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-4000-8000-000000000001"
    log_group_name = "/aws/lambda/" + sys.argv[3]
    log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 30000

# Count the first event's AWS and Slack calls (the handler has imported both SDKs by now).
calls = {"aws": 0, "slack": 0}
def counting(kind, call):
    def counted(*args, **kwargs):
        calls[kind] += 1
        return call(*args, **kwargs)
    return counted
for kind, name, method in (("aws", "botocore.client", "_make_api_call"),
                           ("slack", "slack_sdk.web.base_client", "api_call")):
    if name in sys.modules:
        cls = sys.modules[name].BaseClient
        setattr(cls, method, counting(kind, getattr(cls, method)))

if sys.argv[2] == "-":
    result = "(import only)"
else:
    with open(sys.argv[2]) as f:
        event = json.load(f)
    result = module.lambda_handler(event, Context())
served = time.perf_counter()
print(json.dumps({"import_ms": (imported - began) * 1000, "event_ms": (served - imported) * 1000,
                  "rss_mb": peak_rss_mb(), "done_at": time.time(), "result": result,
                  "calls": calls}, default=str))
"""
)


@dataclass
class Run:
    """One fresh process: from spawn until it had served its event (its exit is not counted:
    Lambda freezes the process after an invocation, it does not tear the interpreter down)."""

    spawned_at: float
    report: dict[str, Any]

    @property
    def wall_ms(self) -> float:
        return (float(self.report["done_at"]) - self.spawned_at) * 1000

    @property
    def rss_mb(self) -> float:
        return float(self.report["rss_mb"])


@dataclass
class Measured:
    """One row's fresh processes: served an event, imported only, and the baselines beside."""

    served: list[Run] = field(default_factory=list)
    alone: list[Run] = field(default_factory=list)
    bases: list[Run] = field(default_factory=list)


def spawn(arguments: list[str], env: dict[str, str]) -> Run:
    """Run a fresh interpreter; it reports when it was done and its peak RSS."""
    spawned_at = time.time()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, *arguments],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{arguments[:3]} failed:\n{stderr.decode()[-3000:]}")
    lines = [line for line in stdout.decode().splitlines() if line.startswith("{")]
    report = json.loads(lines[-1]) if lines else {}
    return Run(spawned_at, report)


def base_env() -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class Events:
    """Fills the bench fixtures with live ids from the sandbox."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.ssm = sandbox.aws("ssm")
        functions = sandbox.aws("lambda").list_functions()["Functions"]
        self.functions = {f["Handler"].rsplit(".", 1)[0]: f for f in functions}
        any_env = functions[0]["Environment"]["Variables"]
        self.approval_document = sandbox.outputs["ApprovalDocumentName"]
        self.key_document = any_env.get("SIGNOFF_ACCESS_KEY_DOCUMENT", "Signoff-AccessKey")
        self.role = sandbox.role_arn("Level1ApproverRole")
        # Notices go to a topic nobody subscribed and the status rules are off: the sandbox's own
        # functions leave these executions alone, so each fresh process does the first-time work.
        sns = sandbox.aws("sns")
        self.topic = sns.create_topic(Name="Automation-bench-unsubscribed")["TopicArn"]
        self.key_requests: list[str] = []
        events = sandbox.aws("events")
        for rule in events.list_rules()["Rules"]:
            if "AutomationResult" in rule["Name"]:
                events.disable_rule(Name=rule["Name"])

    def env(self, module: str) -> dict[str, str]:
        function = self.functions[module]
        env = {
            **base_env(),
            **function["Environment"]["Variables"],
            "AWS_ENDPOINT_URL": self.sandbox.aws_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": function["FunctionName"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.get("MemorySize", 256)),
        }
        env.setdefault("SLACK_API_URL", f"{self.sandbox.slack_url}/api/")
        return env

    def waiting_approval(self) -> str:
        started = self.ssm.start_automation_execution(
            DocumentName=self.approval_document,
            Parameters={
                "Description": ["Cold start benchmark"],
                "Message": ["cold start"],
                "NotificationArn": [self.topic],
                "Approvers": [self.role],
            },
        )["AutomationExecutionId"]
        self.sandbox.settle()
        return str(started)

    def stop_waiting(self) -> None:
        pages = self.ssm.get_paginator("describe_automation_executions").paginate(
            Filters=[{"Key": "ExecutionStatus", "Values": ["Waiting"]}]
        )
        # All pages first: stopping shrinks the list the next page's token points into.
        waiting = [
            e["AutomationExecutionId"] for p in pages for e in p["AutomationExecutionMetadataList"]
        ]
        for execution_id in waiting:
            self.ssm.stop_automation_execution(AutomationExecutionId=execution_id)
        self.sandbox.settle()

    def make_key_history(self, count: int) -> None:
        """`count` finished key requests, made before the first round, so that every run of the
        reconciler lists as many in its key sweep; the issue_access_key row's runs use them,
        one each."""
        for _ in range(count):
            started = self.ssm.start_automation_execution(
                DocumentName=self.key_document,
                Parameters={
                    "IamUser": ["dave"],
                    "RequestReason": ["cold start benchmark"],
                    "RequesterSlackId": ["U0DAVE"],
                    # The document fixes its topic now; a RequestId no record holds: the
                    # issuer refuses these runs after one SSM read and one table read.
                    "RequestId": [str(uuid.uuid4())],
                },
            )
            self.key_requests.append(started["AutomationExecutionId"])
        self.sandbox.settle()
        self.stop_waiting()

    def fill(self, fixture: str, **values: str) -> Any:
        text = (FIXTURES / fixture).read_text()
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        return json.loads(text)

    def for_scenario(self, name: str, module: str) -> Any:
        """The event of one scenario (a handler's name, or a variant such as reconcile_steady)."""
        if name == "approval_notice":
            return self.fill(
                "bench_sns_approval_notice.json",
                execution_id=self.waiting_approval(),
                topic_arn=self.topic,
            )
        if name == "automation_result":
            return self.fill(
                "bench_eventbridge_approve_step_waiting.json",
                execution_id=self.waiting_approval(),
                document=self.approval_document,
                step="ApprovalAction",
            )
        if name in ("reconcile", "reconcile_steady"):
            # One waiting approval without a card, as after a lost notice (the pass posts it);
            # the earlier runs' approvals are stopped and tidied by the sandbox's own reconciler
            # first, so each measured run does the same work. Steady: the sandbox's reconciler
            # posts that card first, and the measured pass finds everything in order, as most
            # passes do (it reads, checks the waiting card against SSM, and calls no Slack).
            self.stop_waiting()
            self.reconcile_in_sandbox(module)
            self.waiting_approval()
            if name == "reconcile_steady":
                self.reconcile_in_sandbox(module)
            return self.fill("bench_schedule.json")
        if name == "start_approval":
            return self.fill(
                "bench_sfn_start_approval.json",
                nonce=uuid.uuid4().hex,
                document=self.approval_document,
                topic_arn=self.topic,
                approver_role=self.role,
            )
        if name == "issue_access_key":
            if not self.key_requests:
                raise SystemExit("no key request left for issue_access_key: make_key_history")
            # Stopped before anyone approved it: the issuer reads SSM, refuses, records it (no
            # key is made). One each run: the issuer is idempotent by execution.
            return self.fill("bench_issue_access_key.json", execution_id=self.key_requests.pop())
        if name == "slack_events":
            payload = self.fill(
                "bench_slack_decision_submission.json", execution_id=self.waiting_approval()
            )
            body = payload_body(payload)
            # The signing secret is the sandbox's, which the function reads from Secrets Manager.
            secret = json.loads(
                self.sandbox.aws("secretsmanager").get_secret_value(
                    SecretId=self.sandbox.outputs["SlackSecretArn"]
                )["SecretString"]
            )["signing_secret"]
            return function_url_event(body, signed_headers(body, secret))
        raise SystemExit(f"no benchmark event for {name}")

    def reconcile_in_sandbox(self, module: str) -> None:
        self.sandbox.aws("lambda").invoke(
            FunctionName=self.functions[module]["FunctionName"],
            Payload=json.dumps(self.fill("bench_schedule.json")),
        )
        self.sandbox.settle()


def handler_modules() -> list[str]:
    return sorted(
        f"handlers.{p.stem}" for p in (REPO / "handlers").glob("*.py") if p.stem != "__init__"
    )


def scenarios() -> list[tuple[str, str]]:
    """(name, module) of each measured row: every handler, and the reconciler twice, once
    repairing a lost notice (the pass posts a card) and once steady (nothing to repair)."""
    rows = []
    for module in handler_modules():
        name = module.rsplit(".", 1)[-1]
        rows.append((name, module))
        if name == "reconcile":
            rows.append(("reconcile_steady", module))
    return rows


def compile_sources() -> None:
    """Bytecode for bot/ and handlers/, as `make package` ships it (Lambda's /var/task is
    read-only: without it every cold start would compile them; this machine may not write
    __pycache__ by itself, PYTHONDONTWRITEBYTECODE). Timestamp-checked, unlike the package's:
    these files sit in a working tree, and an edit must never run stale bytecode."""
    subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "timestamp"]
        + [str(REPO / source) for source in ("bot", "handlers")],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def run(sandbox: RunningSandbox, runs: int, only: list[str]) -> int:
    compile_sources()
    events = Events(sandbox)
    print(f"making {runs} finished key requests (the key sweep's history)", file=sys.stderr)
    events.make_key_history(runs)
    chosen = [
        (name, module)
        for name, module in scenarios()
        if not only or name in only or module.rsplit(".", 1)[-1] in only
    ]
    baseline = [spawn(["-c", BASELINE_CHILD], base_env()) for _ in range(runs)]
    measured = {scenario: Measured() for scenario, _ in chosen}
    last_served = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        # Round by round, each scenario once a round: a slow stretch of the machine (its speed
        # drifts by a quarter within a minute) falls on every row alike, not on one row's runs.
        for n in range(runs):
            print(f"round {n + 1} of {runs}: {len(chosen)} rows", file=sys.stderr, flush=True)
            for scenario, module in chosen:
                rows = measured[scenario]
                name = events.functions[module]["FunctionName"]
                event_path = Path(tmp) / f"{scenario}-{n}.json"
                event_path.write_text(json.dumps(events.for_scenario(scenario, module)))
                env = events.env(module)
                # A baseline next to each run: the ratio compares processes started moments
                # apart, so a machine busy for a while skews both sides alike.
                rows.bases.append(spawn(["-c", BASELINE_CHILD], base_env()))
                # Slack takes one message per second per channel, and the bot waits its turn
                # (ChannelPacer): each measured run posts into a channel quiet for that long.
                time.sleep(max(0.0, last_served + POST_SPACING - time.time()))
                rows.served.append(spawn(["-c", CHILD, module, str(event_path), name], env))
                last_served = time.time()
                rows.alone.append(spawn(["-c", CHILD, module, "-", name], env))
                sandbox.settle()
    print()
    print(
        f"{'handler':<18} {'wall':>7} {'x':>5} {'peak RSS':>9} {'x':>5}   {'import':>6} "
        f"{'1st event':>9} {'calls':>7}   {'import only':>11}   {'runs x':>10}  {'fastest':>6}"
        "   result"
    )
    missed = []
    for scenario, rows in measured.items():
        served, alone, bases = rows.served, rows.alone, rows.bases
        baseline.extend(bases)
        got = _medians(served)
        # Each run against the baseline started moments before it: a pair sees the same drift.
        t_ratio = _paired(served, bases, "wall_ms")
        m_ratio = _paired(served, bases, "rss_mb")
        spread = _ratios(served, bases, "wall_ms")
        # The fastest of each: what the code costs when nothing else on the machine did.
        fastest = min(r.wall_ms for r in served) / min(b.wall_ms for b in bases)
        flag = "" if t_ratio <= TARGET_TIME and m_ratio <= TARGET_MEMORY else "  <- misses"
        if flag:
            missed.append(scenario)
        calls = served[-1].report.get("calls") or {}
        outcome = json.dumps(served[-1].report.get("result"), default=str)
        outcome = outcome if len(outcome) <= 40 else outcome[:37] + "..."
        print(
            f"{scenario:<18} {got['wall']:>5.0f}ms {t_ratio:>4.2f}x "
            f"{got['rss']:>7.1f}MB {m_ratio:>4.2f}x   {got['import']:>4.0f}ms "
            f"{got['event']:>7.0f}ms {calls.get('aws', 0):>3}+{calls.get('slack', 0):<3}  "
            f"{_paired(alone, bases, 'wall_ms'):>4.2f}x "
            f"{_paired(alone, bases, 'rss_mb'):>4.2f}x"
            f"   {spread[0]:.2f}-{spread[-1]:.2f}x  {fastest:>5.2f}x   {outcome}{flag}"
        )
    overall = _medians(baseline)
    print()
    print(
        f"baseline `{BASELINE}`: {overall['wall']:.0f} ms, {overall['rss']:.1f} MB peak RSS "
        f"(median of {len(baseline)} fresh processes, one beside each handler run)"
    )
    print(
        f"wall and peak RSS of a fresh process that imports the handler and serves one event, as "
        f"the median of each run's ratio to the baseline started just before it ('runs x': the "
        f"lowest and highest of those time ratios);\n"
        f"targets <= {TARGET_TIME}x time, <= {TARGET_MEMORY}x memory. "
        "'calls': the first event's AWS + Slack API calls (each a round trip to the sandbox).\n"
        "'import only': the same process without the event (time x, memory x). 'fastest': the\n"
        "fastest run over the fastest baseline (noise only ever adds time)."
    )
    print("RESULT:", "every handler meets them" if not missed else f"MISSED by {missed}")
    return 1 if missed else 0


def _ratios(runs: list[Run], bases: list[Run], measure: str) -> list[float]:
    """Each run's measure over that of the baseline started just before it, lowest first."""
    return sorted(
        getattr(r, measure) / getattr(b, measure) for r, b in zip(runs, bases, strict=True)
    )


def _paired(runs: list[Run], bases: list[Run], measure: str) -> float:
    return statistics.median(_ratios(runs, bases, measure))


def _medians(results: list[Run]) -> dict[str, float]:
    return {
        "wall": statistics.median(r.wall_ms for r in results),
        "rss": statistics.median(r.rss_mb for r in results),
        "import": statistics.median(r.report["import_ms"] for r in results),
        "event": statistics.median(r.report["event_ms"] for r in results),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per handler (9)")
    parser.add_argument(
        "--only",
        nargs="*",
        default=[],
        help="handler or row names, e.g. slack_events reconcile (both reconciler rows)",
    )
    parser.add_argument("--aws-url", help="a running sandbox's AWS endpoint (else start one)")
    parser.add_argument("--slack-url", help="a running sandbox's Slack emulator")
    args = parser.parse_args()
    sandbox = sandbox_from_args(args.aws_url, args.slack_url)
    try:
        return run(sandbox, args.runs, args.only)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    sys.exit(main())
