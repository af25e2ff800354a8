"""`signoff sandbox --demo` as a newcomer runs it: what it prints, what it serves, Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests

from sandbox.provision import prepare
from sandbox.template import load_template
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

SIGNOFF = Path(sys.executable).parent / "signoff"
READY = "Ctrl-C stops everything."
START_BUDGET_SECONDS = 60  # seconds, not minutes (it takes ~5 s on a laptop)


@dataclass
class Running:
    process: subprocess.Popen[str]
    lines: list[str]
    output: queue.Queue[str]

    def read_until(self, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(marker in line for line in self.lines):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.process.poll() is not None and self.output.empty()):
                raise AssertionError(f"no {marker!r} in:\n" + "\n".join(self.lines))
            try:
                self.lines.append(self.output.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                continue

    def url(self, label: str) -> str:
        for line in self.lines:
            if line.strip().startswith(label):
                return re.findall(r"http://127\.0\.0\.1:\d+\S*", line)[0]
        raise AssertionError(f"no {label!r} line in:\n" + "\n".join(self.lines))


@pytest.fixture
def running() -> Iterator[Running]:
    process = subprocess.Popen(  # noqa: S603 - our own entry point, fixed arguments
        [
            str(SIGNOFF),
            "sandbox",
            "--aws-port",
            "0",
            "--slack-port",
            "0",
            "--bot-port",
            "0",
            "--demo",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    started = Running(process, [], output)
    try:
        yield started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_make_sandbox_starts_in_seconds_serves_everything_and_stops_on_ctrl_c(
    running: Running,
) -> None:
    began = time.monotonic()
    running.read_until(READY, START_BUDGET_SECONDS)
    assert time.monotonic() - began < START_BUDGET_SECONDS
    # Seconds of imports come before the first step is done: the terminal says so at once.
    assert "loading the local AWS" in running.lines[1]

    slack_url = running.url("Slack (open this)")
    aws_url = running.url("local AWS")
    request_url = running.url("bot request URL")
    substituted = [line for line in running.lines if "substituted" in line]
    assert len(substituted) == 1
    for kind in ("SecretsManager::Secret", "SNS::Subscription", "Lambda::Url"):
        assert kind in substituted[0]
    assert any("/request-key dave CI deploy key" in line for line in running.lines)

    assert requests.get(f"{aws_url}/_sandbox/health", timeout=5).json()["status"] == "ok"
    page = requests.get(slack_url, timeout=5)
    assert page.status_code == 200 and "Slack" in page.text
    # The bot checks Slack's signature before anything else, as on Lambda.
    assert requests.post(request_url, data="command=/request-key", timeout=10).status_code == 401

    # Every resource of the template (its conditions evaluated) exists, created from it.
    cloudformation = boto3.client(
        "cloudformation",
        endpoint_url=aws_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stack = cloudformation.describe_stacks(StackName="signoff")["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    expected = set(prepare(load_template(), parameters, "us-east-1")["Resources"])
    resources = cloudformation.describe_stack_resources(StackName="signoff")["StackResources"]
    assert {r["LogicalResourceId"] for r in resources} == expected
    assert {r["ResourceStatus"] for r in resources} <= {"CREATE_COMPLETE", "UPDATE_COMPLETE"}

    # What the banner suggests the operator types works as printed, with nothing exported
    # (the sandbox is on other ports than make sandbox's: the lines name them).
    operator_lines = [
        line.strip() for line in running.lines if line.strip().startswith("signoff --sandbox")
    ]
    assert {line.split()[-1] for line in operator_lines} >= {"list", "head", "doctor", "reconcile"}
    bare = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNOFF_", "SLACK_", "AWS_"))}
    for line in operator_lines:
        ran = subprocess.run(  # noqa: S603 - the banner's own line, run as a user would
            ["/bin/sh", "-c", line],
            capture_output=True,
            text=True,
            timeout=60,
            env={**bare, "HOME": "/nonexistent", "PATH": f"{SIGNOFF.parent}:{bare['PATH']}"},
            check=False,
        )
        assert ran.returncode == 0, f"{line}\n{ran.stdout}{ran.stderr}"
        assert ran.stderr == "", f"{line}\n{ran.stderr}"
        if line.endswith(" doctor"):
            assert "✗" not in ran.stdout and "✓ Slack app" in ran.stdout, ran.stdout

    # --demo: a 3-level flow waits for alice, erin's key request waits too.
    running.read_until("Demo started", 30)

    def messages(channel: str) -> list[dict[str, object]]:
        reply = requests.get(
            f"{slack_url}/_emulator/messages", params={"channel": channel}, timeout=5
        )
        return list(reply.json()["messages"])

    flow_root = wait_for(
        lambda: [m for m in messages("approvals-level1") if "Approval flow" in str(m["text"])],
        what="the flow's thread",
    )
    assert "level 1 ⏳" in str(flow_root[0]["text"])

    # The banner's first thing to try still works after the demo: dave's own request starts.
    def answers_to_dave() -> list[dict[str, str]]:
        reply = requests.get(f"{slack_url}/_emulator/ephemeral", params={"user": "dave"}, timeout=5)
        return list(reply.json()["ephemeral"])

    before = len(answers_to_dave())
    tried = requests.post(
        f"{slack_url}/_emulator/command",
        json={
            "user": "dave",
            "channel": "approvals",
            "command": "/request-key",
            "text": "dave CI deploy key",
        },
        timeout=30,
    ).json()
    assert tried["status"] == 200, tried
    answers = wait_for(
        lambda: answers_to_dave()[before:], what="the bot's answer to dave's /request-key"
    )
    assert "Requested an access key for IAM user `dave`" in answers[-1]["text"], answers
    assert any("nightly backup key" in json.dumps(m.get("blocks")) for m in messages("approvals"))

    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(timeout=30) == 0
    running.read_until("Stopped.", 5)
    with pytest.raises(requests.ConnectionError):
        requests.get(slack_url, timeout=2)
