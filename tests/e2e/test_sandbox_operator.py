"""The operator's CLI against a running sandbox, with nothing exported: it finds the stack.

Each command runs as an operator types it, in a process of its own whose environment holds no
SIGNOFF_*, SLACK_* or AWS_* variable: every name comes from the stack's outputs. The sandbox is
on free ports, so the commands name its endpoint (`--endpoint-url`) where `make sandbox`'s
fixed ports need nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import SandboxClient

pytestmark = pytest.mark.e2e

SIGNOFF = Path(sys.executable).parent / "signoff"


def bare_environment(**extra: str) -> dict[str, str]:
    """This process's environment without anything that says where Signoff or AWS is."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SIGNOFF_", "SLACK_", "AWS_", "POWERTOOLS_"))
    }
    # No ~/.aws either: a profile must not be what makes the commands work.
    env["HOME"] = "/nonexistent"
    return {**env, **extra}


def signoff(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
        [str(SIGNOFF), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or bare_environment(),
        check=False,
    )


def test_sandbox_users_list_needs_no_variables(sandbox: SandboxClient) -> None:
    listed = signoff("--sandbox", "--endpoint-url", sandbox.aws_url, "users", "list")

    assert listed.returncode == 0, listed.stderr
    rows = {line.split("\t")[1]: line for line in listed.stdout.splitlines()}
    assert {"alice", "bob", "carol", "dave"} <= set(rows)
    assert "Level1ApproverRole" in rows["alice"]
    assert "iam_user=dave" in rows["dave"]


def test_stack_names_the_deployment_and_credentials_come_from_the_usual_chain(
    sandbox: SandboxClient,
) -> None:
    keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    where = ("--stack", "signoff", "--region", "us-east-1", "--endpoint-url", sandbox.aws_url)

    listed = signoff(*where, "users", "list", env=bare_environment(**keys))

    assert listed.returncode == 0, listed.stderr
    assert "alice" in listed.stdout
    # Without the stack and without the variables, the CLI says what it lacks.
    lost = signoff("--endpoint-url", sandbox.aws_url, "users", "list", env=bare_environment(**keys))
    assert lost.returncode == 2
    assert "SIGNOFF_IDENTITIES_TABLE" in lost.stderr and "Traceback" not in lost.stderr
    # A stack that is not there is one line, not a traceback.
    missing = signoff(
        "--stack", "no-such-stack", *where[2:], "users", "list", env=bare_environment(**keys)
    )
    assert missing.returncode == 2
    assert "no-such-stack" in missing.stderr and "Traceback" not in missing.stderr


def test_users_map_then_audit_export_show_the_mapping(sandbox: SandboxClient) -> None:
    where = ("--sandbox", "--endpoint-url", sandbox.aws_url)
    mapped = signoff(*where, "users", "map", "U0ERIN0001", "--name", "erin", "--iam-user", "erin")
    assert mapped.returncode == 0, mapped.stderr

    exported = signoff(*where, "audit", "export", "--since", "1h")

    assert exported.returncode == 0, exported.stderr
    events = [json.loads(line) for line in exported.stdout.splitlines()]
    assert any(
        e["event"] == "user_mapped" and e.get("slack_user") == "U0ERIN0001" for e in events
    ), events


def test_audit_export_to_a_reader_that_left_ends_quietly(sandbox: SandboxClient) -> None:
    """`signoff audit export | head -1`: head exits after a line; the export must not print a
    BrokenPipeError traceback. A pipe whose reading end is already closed is that, for sure."""
    where = ("--sandbox", "--endpoint-url", sandbox.aws_url)
    mapped = signoff(*where, "users", "map", "U0FRANK001", "--name", "frank", "--iam-user", "frank")
    assert mapped.returncode == 0, mapped.stderr
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
            [str(SIGNOFF), *where, "audit", "export"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=bare_environment(),
            check=False,
        )
    finally:
        os.close(write)

    assert done.stderr == ""
    assert done.returncode == 1  # as Python's own note on SIGPIPE: nonzero, and nothing said

    # And as a shell runs it: head has its line, the pipeline says nothing else.
    shell = subprocess.run(  # noqa: S603 - fixed command line
        [
            "/bin/sh",
            "-c",
            f"'{SIGNOFF}' --sandbox --endpoint-url {sandbox.aws_url} audit export | head -1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=bare_environment(),
        check=False,
    )
    assert shell.stderr == ""
    assert json.loads(shell.stdout)["event"]


def test_sandbox_doctor_finds_nothing_to_fix(sandbox: SandboxClient) -> None:
    checked = signoff(
        "--sandbox",
        "--endpoint-url",
        sandbox.aws_url,
        "--slack-api-url",
        f"{sandbox.slack_url}/api/",
        "doctor",
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "✗" not in checked.stdout
    # The Slack app's check ran against the emulator (not skipped, not Slack itself).
    assert "✓ Slack app: the bot token works" in checked.stdout, checked.stdout
