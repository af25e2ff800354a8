"""`signoff sandbox`: the whole product on this machine, in the foreground; Ctrl-C stops it."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

DEFAULT_PORTS = {"aws": 4566, "slack": 3000, "bot": 3001}


def register(commands: Any) -> None:
    """Add `sandbox` to `signoff`'s sub-commands (entry point `signoff.commands`)."""
    parser = commands.add_parser(
        "sandbox",
        help="run Signoff locally: a local AWS, a Slack you can click in, the bot",
        description=(
            "Start, on loopback and in the foreground, a local AWS with every resource of "
            "infra/template.yaml, a Slack emulator with a web page, and the bot behind its "
            "Function URL. Nothing talks to real AWS or Slack. Ctrl-C stops everything."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--aws-port", type=int, default=DEFAULT_PORTS["aws"], help="local AWS")
    parser.add_argument(
        "--slack-port", type=int, default=DEFAULT_PORTS["slack"], help="Slack emulator page"
    )
    parser.add_argument(
        "--bot-port",
        type=int,
        default=DEFAULT_PORTS["bot"],
        help="the bot's Function URL (Slack's request URL)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="also start a 3-level approval flow and erin's access-key request",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="the functions' log level (the template's LogLevel parameter; default WARNING)",
    )
    parser.add_argument(
        "--functions-in-process",
        action="store_true",
        help=(
            "run the Lambda functions inside this process rather than in execution "
            "environments of their own (a debugger's breakpoints work; slower under load)"
        ),
    )
    parser.set_defaults(run=run)


def _say(line: str = "") -> None:
    print(line, flush=True)


def _local_credentials() -> None:
    # Only the sandbox answers this process: fake keys, no profile, no other endpoint.
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


def run(args: argparse.Namespace) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # ✓ and → on a terminal that cannot show them
    _local_credentials()
    # The handler modules build their Powertools logger when first imported, which happens
    # outside any one function's environment here: give this process the same settings.
    os.environ["POWERTOOLS_LOG_LEVEL"] = args.log_level
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "signoff")
    _say("Starting Signoff's sandbox (Ctrl-C stops it)…")
    began = time.monotonic()
    # Imported here: `signoff --help` and the operator commands need none of this. Seconds of
    # imports (moto above all): said, or the terminal looks stuck.
    _say("  … loading the local AWS (moto) and Signoff's code")
    from sandbox import demo
    from sandbox.provision import ProvisionError
    from sandbox.runtime import REGION, Sandbox

    sandbox = Sandbox(
        args.host,
        args.aws_port,
        args.slack_port,
        args.bot_port,
        log_level=args.log_level,
        functions_in_process=args.functions_in_process,
        progress=_say,
    )
    try:
        sandbox.start()
    except OSError as exc:
        _say(f"signoff sandbox: cannot listen: {exc}. Another sandbox running? Pick other ports")
        _say("  with --aws-port, --slack-port, --bot-port (0 = any free port).")
        return 1
    except ProvisionError as exc:
        _say(f"signoff sandbox: {exc}")
        return 1
    # What start() built (moto's models, the stack, every import) lives as long as the process:
    # frozen, the collector stops walking it, and a full collection no longer stalls every
    # request for as long as it did (the ack benchmark's slowest clicks; docs/decisions/0011).
    gc.collect()
    gc.freeze()
    try:
        for line in banner(sandbox, REGION, time.monotonic() - began):
            _say(line)
        if args.demo:
            for line in demo.run(sandbox):
                _say(line)
        _wait_for_interrupt()
    except KeyboardInterrupt:
        pass  # Ctrl-C while the demo was starting: stop as after it
    finally:
        _say("Stopping…")
        sandbox.stop()
        _say("Stopped.")
    return 0


def _wait_for_interrupt() -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def banner(sandbox: Any, region: str, took: float) -> list[str]:
    """What `make sandbox` prints once everything is up: where things are, what to try."""
    from sandbox import demo

    stack = sandbox.stack
    binding = sandbox.function_urls[0]
    aws = f"aws --endpoint-url {sandbox.aws_url} --region {region}"
    cli = operator_cli(sandbox.aws_url, sandbox.slack_url)
    flow_arn = stack.outputs["ApprovalFlowStateMachineArn"]
    level1_role = next(
        arn for arn in stack.outputs["ApproverRoleArns"].split(",") if "Level1Approver" in arn
    )
    return [
        "",
        f"Signoff's sandbox is up ({took:.1f} s).",
        f"  Slack (open this)   {sandbox.slack_url}",
        f"  local AWS           {sandbox.aws_url}   (any SDK or CLI; key id/secret: testing)",
        f"  bot request URL     {sandbox.request_url}",
        f"                      = {binding.function_name}'s Function URL {binding.aws_url}",
        *(f"  {note}" for note in sandbox.notes),
        f"  {demo.cast_line()}",
        "",
        "Try:",
        f"  1. Open {sandbox.slack_url}, act as dave and type in #approvals:",
        "       /request-key dave CI deploy key",
        "     then switch to alice, click Approve on the card, add a comment: dave gets a DM.",
        "  2. Start a 3-level flow (alice, then bob, then carol approve, in one thread):",
        "       signoff sandbox --demo   (starts one at start-up), or with the AWS CLI:",
        "       export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        f"       {aws} stepfunctions start-execution --state-machine-arn {flow_arn} \\",
        f'         --input "$({aws} cloudformation describe-stacks --stack-name {stack.name} \\',
        "         --query \"Stacks[0].Outputs[?OutputKey=='StepFunctionsInputExample']"
        '.OutputValue" --output text)"',
        "  3. Approve from the CLI as a role session (in the shell of 2.), watch the card update:",
        f"       {aws} ssm describe-automation-executions --filters Key=ExecutionStatus,"
        "Values=Waiting --query 'AutomationExecutionMetadataList[].AutomationExecutionId'",
        '       read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN <<< "$('
        f"{aws} sts assume-role \\",
        f"         --role-arn {level1_role} --role-session-name cli-approver \\",
        "         --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' \\",
        '         --output text)"',
        "       export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN",
        f"       {aws} ssm send-automation-signal --automation-execution-id <id> "
        "--signal-type Approve --payload Comment=from-the-CLI",
        "  4. See a reminder: with an approval waiting (1. or 2.), move the clock to half an hour",
        "     before its 7-day timeout, run a reconciler pass now: it reminds in the thread.",
        f"       curl -X POST {sandbox.aws_url}/_sandbox/clock/advance "
        """-d '{"seconds": 603000}'""",
        f"       {cli} reconcile",
        "  5. Open App Home (sidebar, under Apps) as alice: what waits for her, her requests",
        "     and decisions; Approve there works as on the card.",
        "",
        "As the operator (the CLI reads every name from the stack's outputs, nothing to export):",
        f"       {cli} users list",
        f"       {cli} audit export --since 1h | head",
        f"       {cli} doctor",
        "Ctrl-C stops everything.",
    ]


def operator_cli(aws_url: str, slack_url: str) -> str:
    """`signoff --sandbox`, with the endpoints when they are not the default ports' (bot/stack)."""
    from bot.stack import SANDBOX_AWS_URL, SANDBOX_SLACK_API_URL

    words = ["signoff --sandbox"]
    if aws_url != SANDBOX_AWS_URL:
        words.append(f"--endpoint-url {aws_url}")
    if f"{slack_url}/api/" != SANDBOX_SLACK_API_URL:
        words.append(f"--slack-api-url {slack_url}/api/")
    return " ".join(words)
