"""Each function's cold and warm start at the CPU and memory Lambda gives a MemorySize, over TLS.

Lambda gives a function CPU in proportion to its memory (one vCPU at 1,769 MB), so a cold start,
which is mostly imports, is CPU-bound: at 256 MB a function has 14.5% of a core. Here every run
is a fresh process in a cgroup limited to MemorySize/1769 of one core and MemorySize of memory
(bench/_quota.py; it needs root and skips cleanly without it). It imports the handler, serves a
cold event, then a warm one, and reports the split. The functions talk to the sandbox's AWS and
Slack through a local TLS-terminating proxy (bench/_tls_proxy.py) whose test CA is their CA
bundle, with their own environment only (bench/_events.py).

The Slack function's events are real Approve clicks: the emulator builds, signs and sends them to
a capture endpoint here (a live `block_actions` with a trigger_id), and the process gets them as
the Function URL event. Beside it, under the same quota in the same rounds, the canonical
Bolt-on-Lambda app (bench/canonical_app.py) serves the same clicks.

Printed per MemorySize: import, cold (import + first event, in-process), warm (the next event),
CPU (until the cold event was served) and peak RSS, as median (min-max); Signoff / canonical; and
the modelled cold ack a person sees: in-process + MODEL_OVERHEAD_S (Lambda's runtime init, Slack
to the Function URL and back, real services' latency beyond the local ones).

Targets (exit 1 when missed), at the MemorySize the template gives each function: the Slack
function's modelled cold ack <= 1.5 s at its slowest run and its median <= 0.5x the canonical
app's; the notice and result functions' slowest cold event <= 2 s.

    .venv/bin/python bench/lambda_cpu.py                          # every function, 10 runs
    .venv/bin/python bench/lambda_cpu.py --runs 3 --only slack_events --memory 256 1024
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _events import Events, compile_sources
from _quota import ONE_VCPU_MB, Quota, unavailable
from _sandbox import REPO, RunningSandbox, reference_loop_ms, sandbox_from_args
from _tls_proxy import Proxied, tls_proxy

sys.path.insert(0, str(REPO))
from tests.support.signed import function_url_event

MEMORY_SIZES = [256, 512, 768, 1024, 1769]
MODEL_OVERHEAD_S = 0.4
TARGET_CLICK_S = 1.5  # modelled, slowest run
TARGET_VS_CANONICAL = 0.5  # median
TARGET_EVENT_S = 2.0  # notice and result functions, slowest run
FUNCTIONS = [
    "slack_events",
    "approval_notice",
    "automation_result",
    "start_approval",
    "issue_access_key",
    "reconcile",
]
CANONICAL = "canonical"
CANONICAL_NAME = "signoff-bench-canonical-bolt"
SLACK_FUNCTION = "handlers.slack_events"
EVENT_TARGETS = ("approval_notice", "automation_result")
COLD = "cold_quota_ms"  # what the targets are checked on
VERBOSE = False  # --verbose: each process's log

# What runs in the fresh process: import the handler, serve the cold event, then the warm one.
CHILD = """
import json, resource, sys, time

def mark():
    # (wall, CPU, run delay) in ms. Run delay (schedstat): runnable but not running, for the
    # quota's throttling or for other processes' turns on this machine.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open("/proc/self/schedstat") as f:
        delay_ns = int(f.read().split()[1])
    return (time.perf_counter() * 1000, (usage.ru_utime + usage.ru_stime) * 1000, delay_ns / 1e6)

began = mark()
module_name, attribute, events_path, function_name, memory = sys.argv[1:6]
import importlib
handler = getattr(importlib.import_module(module_name), attribute)
imported = mark()

class Context:
    function_version = "$LATEST"
    memory_limit_in_mb = int(memory)
    aws_request_id = "00000000-0000-4000-8000-000000000001"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "bench"
    def __init__(self):
        self.function_name = function_name
        arn = "arn:aws:lambda:us-east-1:123456789012:function:"
        self.invoked_function_arn = arn + function_name
    def get_remaining_time_in_millis(self):
        return 30000

with open(events_path) as f:
    cold_event, warm_event = json.load(f)
cold_result = handler(cold_event, Context())
served = mark()
warm_result = handler(warm_event, Context())
warmed = mark()
with open("/proc/self/status") as status:
    rss = int(next(l for l in status if l.startswith("VmHWM:")).split()[1]) / 1024
print(json.dumps({"marks": {"began": began, "imported": imported, "served": served,
                            "warmed": warmed},
                  "cpu_ms": served[1], "rss_mb": rss, "results": [cold_result, warm_result]},
                 default=str))
"""


@dataclass
class Row:
    """One function's fresh processes at one MemorySize."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def values(self, key: str) -> list[float]:
        return [float(r[key]) for r in self.reports]

    def median(self, key: str) -> float:
        return statistics.median(self.values(key))

    def spread(self, key: str, scale: float = 1.0, unit: str = "", digits: int = 2) -> str:
        """'median (min-max)' of one measure over the row's runs."""
        got = [v * scale for v in self.values(key)]
        if not got:
            return "-"
        return (
            f"{statistics.median(got):.{digits}f}{unit} "
            f"({min(got):.{digits}f}-{max(got):.{digits}f})"
        )


class ClickCapture:
    """Slack's request URL during the bench: records each signed request the emulator sends
    and answers 200 at once, so a click can be replayed to a fresh process as it was sent."""

    def __init__(self) -> None:
        self.last: tuple[bytes, dict[str, str]] | None = None
        self.arrived = threading.Event()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                capture.last = (body, {k.lower(): v for k, v in self.headers.items()})
                capture.arrived.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def click(self, sandbox: RunningSandbox, ts: str) -> dict[str, Any]:
        """alice clicks Approve on the card at `ts`: the Function URL event of that request."""
        self.arrived.clear()
        sandbox.control(
            "POST",
            "click",
            json={
                "user": "alice",
                "channel": "approvals-level1",
                "ts": ts,
                "action_id": "approval_approve",
            },
        )
        if not self.arrived.wait(10) or self.last is None:
            raise RuntimeError("the emulator sent no click to the capture endpoint")
        body, headers = self.last
        return function_url_event(body, headers)


@contextmanager
def slack_clicks(sandbox: RunningSandbox) -> Iterator[tuple[ClickCapture, str]]:
    """The emulator's request URL pointed at a capture endpoint, and a level-1 card to click."""
    before = sandbox.control("GET", "config")
    capture = ClickCapture()
    # Slack's trigger_id lives 3 s; a 256 MB cold start with the canonical app can pass that,
    # and the modal must still open for the ack to be what it is on AWS.
    sandbox.control("POST", "config", json={"bot_url": capture.url, "trigger_ttl_seconds": 120})
    try:
        ssm = sandbox.aws("ssm")
        execution_id = ssm.start_automation_execution(
            DocumentName=sandbox.outputs["ApprovalDocumentName"],
            Parameters={
                "Description": ["Lambda CPU benchmark"],
                "Message": ["lambda cpu"],
                "NotificationArn": [sandbox.outputs["Level1TopicArn"]],
                "Approvers": [sandbox.role_arn("Level1ApproverRole")],
            },
        )["AutomationExecutionId"]
        sandbox.settle()
        messages = sandbox.control("GET", "messages", params={"channel": "approvals-level1"})
        card = next(
            m["ts"]
            for m in messages["messages"]
            if execution_id in json.dumps(m.get("blocks") or [])
        )
        yield capture, card
    finally:
        sandbox.control(
            "POST",
            "config",
            json={k: before[k] for k in ("bot_url", "trigger_ttl_seconds") if k in before},
        )
        capture.server.shutdown()


def register_canonical(sandbox: RunningSandbox, events: Events) -> dict[str, str]:
    """The canonical app as a function in the sandbox too: its lazy listener re-invokes it."""
    slack = events.functions[SLACK_FUNCTION]
    variables = {"SLACK_SECRET_ARN": slack["Environment"]["Variables"]["SLACK_SECRET_ARN"]}
    client = sandbox.aws("lambda")
    try:
        client.get_function(FunctionName=CANONICAL_NAME)
    except client.exceptions.ResourceNotFoundException:
        client.create_function(
            FunctionName=CANONICAL_NAME,
            Runtime="python3.12",
            Role=slack["Role"],
            Handler="bench.canonical_app.handler",
            Code={"ZipFile": _empty_zip()},
            Environment={"Variables": variables},
            MemorySize=slack.get("MemorySize", 256),
            Timeout=30,
        )
    return variables


def _empty_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "the sandbox imports bench.canonical_app from the repository")
    return buffer.getvalue()


def spawn(
    quota: Quota, module: str, attribute: str, events: list[Any], name: str, env: dict[str, str]
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(events, f)
    command = [
        sys.executable,
        "-c",
        CHILD,
        module,
        attribute,
        f.name,
        name,
        str(quota.memory_mb),
    ]
    process = subprocess.run(  # noqa: S603 - our own interpreter and script
        quota.wrap(command), env=env, cwd=REPO, capture_output=True, check=False
    )
    Path(f.name).unlink()
    if process.returncode != 0:
        killed = " (killed: over the memory limit?)" if process.returncode < 0 else ""
        raise RuntimeError(
            f"{module} exited {process.returncode}{killed}:\n{process.stderr.decode()[-2000:]}"
        )
    if VERBOSE:
        print(process.stderr.decode()[-3000:], file=sys.stderr)
    lines = [line for line in process.stdout.decode().splitlines() if line.startswith("{")]
    report = dict(json.loads(lines[-1]))
    marks = report["marks"]
    for key, start, end in (
        ("import", "began", "imported"),
        ("cold", "began", "served"),
        ("warm", "served", "warmed"),
    ):
        wall, cpu, delay = (b - a for a, b in zip(marks[start], marks[end], strict=True))
        report[f"{key}_ms"] = wall
        # The same step with exactly its quota, as on Lambda, where no other process competes:
        # the time it was blocked (on I/O: its calls to AWS and Slack) plus its CPU time at
        # MemorySize/1769 of a core. On a busy shared machine a process can get less than its
        # quota; its wall time then measures the machine's load as much as the function.
        report[f"{key}_quota_ms"] = max(0.0, wall - cpu - delay) + cpu / quota.share
    return report


def module_of(function: str) -> str:
    return "bench.canonical_app" if function == CANONICAL else f"handlers.{function}"


def run(
    sandbox: RunningSandbox, runs: int, functions: list[str], sizes: list[int], proxy: Proxied
) -> int:
    compile_sources()
    events = Events(sandbox)
    template_sizes = {
        module: int(f.get("MemorySize", 128)) for module, f in events.functions.items()
    }
    rows_of = [*functions, CANONICAL] if "slack_events" in functions else functions
    # The template's own setting is always measured: the targets are checked there.
    sizes = sorted(set(sizes) | {template_sizes[f"handlers.{f}"] for f in functions})
    if "issue_access_key" in functions:
        events.make_key_history(2 * runs * len(sizes))
    aws_url, slack_api_url = proxy.url(sandbox.aws_url), proxy.url(f"{sandbox.slack_url}/api/")
    canonical_env = register_canonical(sandbox, events) if CANONICAL in rows_of else {}
    # Kept: Lambda's and the SDK's own (credentials, region, endpoint), and the Slack API URL.
    signoff_variables = {
        name
        for name in events.functions[SLACK_FUNCTION]["Environment"]["Variables"]
        if name == "AWS_DATA_PATH" or not name.startswith(("AWS_", "SLACK_API_URL"))
    }
    quotas = {mb: Quota(mb, "cpu") for mb in sizes}
    measured = {(name, mb): Row() for name in rows_of for mb in sizes}
    loop_before = reference_loop_ms()
    began = time.time()
    try:
        with slack_clicks(sandbox) as (capture, card):
            for n in range(runs):
                print(f"round {n + 1} of {runs}", file=sys.stderr, flush=True)
                # Round by round, every row once a round: a slow stretch of a shared machine
                # falls on every row alike.
                for mb in sizes:
                    for name in rows_of:
                        row = measured[(name, mb)]
                        if name in ("slack_events", CANONICAL):
                            pair = [capture.click(sandbox, card), capture.click(sandbox, card)]
                        else:
                            pair = pair_of(events, name)
                        env = events.env(
                            SLACK_FUNCTION if name == CANONICAL else f"handlers.{name}",
                            aws_url,
                            slack_api_url,
                            proxy.ca_bundle,
                        )
                        function_name = events.functions[
                            SLACK_FUNCTION if name == CANONICAL else f"handlers.{name}"
                        ]["FunctionName"]
                        if name == CANONICAL:
                            # Lambda's variables and the endpoints, none of Signoff's own
                            # (its tables, routes, trimmed models' AWS_DATA_PATH…).
                            env = {k: v for k, v in env.items() if k not in signoff_variables}
                            env.update(canonical_env)
                            function_name = CANONICAL_NAME
                        attribute = "handler" if name == CANONICAL else "lambda_handler"
                        opened = views_opened(sandbox)
                        try:
                            report = spawn(
                                quotas[mb], module_of(name), attribute, pair, function_name, env
                            )
                        except RuntimeError as error:
                            row.failures.append(str(error))
                            print(f"  {name} at {mb} MB: {error}", file=sys.stderr)
                            continue
                        if name in ("slack_events", CANONICAL):
                            # The ack is only an ack if the modal opened (views.open ok).
                            report["modals"] = views_opened(sandbox) - opened
                        row.reports.append(report)
                        sandbox.settle()
    finally:
        for quota in quotas.values():
            quota.remove()
    print(
        "TLS connections through the proxy: "
        + ", ".join(f"{origin} {n}" for origin, n in proxy.connections.items()),
        file=sys.stderr,
    )
    return report_table(measured, rows_of, sizes, template_sizes, runs, loop_before, began)


def views_opened(sandbox: RunningSandbox) -> int:
    """Modals Slack has opened so far (views.open calls answered ok)."""
    calls = sandbox.control("GET", "calls", params={"method": "views.open"})["calls"]
    return sum(1 for c in calls if (c.get("response") or {}).get("ok"))


def pair_of(events: Events, name: str) -> list[Any]:
    """A cold and a warm event for one function (the reconciler: a repair, then a quiet pass)."""
    module = f"handlers.{name}"
    if name == "reconcile":
        event = events.for_scenario("reconcile", module)
        return [event, event]
    return [events.for_scenario(name, module), events.for_scenario(name, module)]


def report_table(
    measured: dict[tuple[str, int], Row],
    rows_of: list[str],
    sizes: list[int],
    template_sizes: dict[str, int],
    runs: int,
    loop_before: float,
    began: float,
) -> int:
    loop_after = reference_loop_ms()
    print()
    print(
        f"{'MB':>5} {'function':<18} {'import s':>17} {'cold s':>17} {'warm ms':>19} "
        f"{'CPU s':>17} {'peak RSS MB':>20} {'/canon':>6} {'user-seen cold s':>17} "
        f"{'wall cold s':>17}"
    )
    missed: list[str] = []
    for mb in sizes:
        for name in rows_of:
            row = measured[(name, mb)]
            at_template = mb == template_sizes.get(
                SLACK_FUNCTION if name == CANONICAL else f"handlers.{name}"
            )
            if not row.reports:
                print(f"{mb:>5} {name:<18} no run completed: {row.failures[:1]}")
                if at_template and name != CANONICAL:
                    missed.append(f"{name} at {mb} MB did not run")
                continue
            ratio = modelled = ""
            canonical = measured.get((CANONICAL, mb))
            if name == "slack_events" and canonical and canonical.reports:
                ratio = f"{row.median(COLD) / canonical.median(COLD):.2f}"
            if name in ("slack_events", CANONICAL):
                cold = row.values(COLD)
                modelled = (
                    f"{statistics.median(cold) / 1000 + MODEL_OVERHEAD_S:.2f} "
                    f"(max {max(cold) / 1000 + MODEL_OVERHEAD_S:.2f})"
                )
            print(
                f"{mb:>4}{'*' if at_template else ' '} {name:<18} "
                f"{row.spread('import_quota_ms', 0.001):>17} {row.spread(COLD, 0.001):>17} "
                f"{row.spread('warm_quota_ms', 1, '', 0):>19} {row.spread('cpu_ms', 0.001):>17} "
                f"{row.spread('rss_mb', 1, '', 0):>20} {ratio:>6} {modelled:>17} "
                f"{row.spread('cold_ms', 0.001):>17}"
                + (f"  ({len(row.failures)} failed)" if row.failures else "")
            )
            if at_template and name != CANONICAL:
                missed.extend(check_targets(name, mb, row, canonical))
            statuses = {
                str(r.get("statusCode"))
                for report in row.reports
                for r in report["results"]
                if isinstance(r, dict) and "statusCode" in r
            }
            if statuses - {"200"}:
                print(f"{'':>6} {name}: HTTP statuses {sorted(statuses)}: a click was refused")
                missed.append(f"{name} at {mb} MB: a click was refused")
            unopened = [r["modals"] for r in row.reports if r.get("modals", 2) != 2]
            if unopened:
                print(f"{'':>6} {name}: {len(unopened)} runs opened fewer than 2 modals")
                missed.append(f"{name} at {mb} MB: a click opened no modal")
        print()
    print(
        f"median (min-max) of {runs} fresh processes a row, each in a cgroup of MemorySize/"
        f"{ONE_VCPU_MB} of one core and MemorySize of memory; * = the template's MemorySize.\n"
        "import, cold (import + first event, from the interpreter's first line) and warm (the next "
        "event in the same process)\nat exactly the quota: time blocked on I/O + CPU time / "
        "(MemorySize/1769). 'wall cold': as measured on this\nshared machine, where other "
        "processes can leave less than the quota. CPU: until the cold event was served.\n"
        f"user-seen cold: cold + {MODEL_OVERHEAD_S} s, an assumption (Lambda's runtime init, "
        "Slack to the Function URL and back, real services'\nlatency beyond this machine's), not "
        "a measurement. /canon: Signoff's median cold over the canonical Bolt app's.\n"
        f"Machine: a reference loop took {loop_before:.0f} ms of CPU before, {loop_after:.0f} ms "
        f"after; load average {os.getloadavg()[0]:.1f} at the end "
        f"({(time.time() - began) / 60:.1f} min, {os.cpu_count()} cores)."
    )
    print("RESULT:", "every target met" if not missed else "MISSED: " + "; ".join(missed))
    return 1 if missed else 0


def check_targets(name: str, mb: int, row: Row, canonical: Row | None) -> list[str]:
    missed = []
    cold_s = [v / 1000 for v in row.values(COLD)]
    if name == "slack_events":
        slowest = max(cold_s) + MODEL_OVERHEAD_S
        if slowest > TARGET_CLICK_S:
            missed.append(f"slack_events at {mb} MB: slowest user-seen cold ack {slowest:.2f} s")
        if canonical and canonical.reports:
            ratio = row.median(COLD) / canonical.median(COLD)
            if ratio > TARGET_VS_CANONICAL:
                missed.append(f"slack_events at {mb} MB: {ratio:.2f}x the canonical app")
        else:
            missed.append(f"slack_events at {mb} MB: no canonical app to compare with")
    if name in EVENT_TARGETS and max(cold_s) > TARGET_EVENT_S:
        missed.append(f"{name} at {mb} MB: slowest cold event {max(cold_s):.2f} s")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh processes per row (10)")
    parser.add_argument(
        "--only", nargs="*", choices=FUNCTIONS, default=FUNCTIONS, help="functions (all)"
    )
    parser.add_argument(
        "--memory", nargs="*", type=int, default=MEMORY_SIZES, help="MemorySizes in MB"
    )
    parser.add_argument("--aws-url", help="a running sandbox's AWS endpoint (else start one)")
    parser.add_argument("--slack-url", help="a running sandbox's Slack emulator")
    parser.add_argument("--verbose", action="store_true", help="print each process's log")
    args = parser.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    reason = unavailable()
    if reason:
        print(f"SKIPPED: this bench limits CPU and memory with a cgroup, and {reason}.")
        return 0
    sandbox = sandbox_from_args(args.aws_url, args.slack_url)
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            tls_proxy([sandbox.aws_url, sandbox.slack_url], Path(tmp)) as proxy,
        ):
            return run(sandbox, args.runs, args.only, args.memory, proxy)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    sys.exit(main())
