"""Reminders you can see: move the sandbox's clock near a timeout, run a reconciler pass now.

A module of its own: the clock only moves forward, and the sandbox (shared by a module) is
where it moved.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import SandboxClient
from tests.e2e.test_sandbox_operator import bare_environment

pytestmark = pytest.mark.e2e

SIGNOFF = Path(sys.executable).parent / "signoff"
# The template's approval document waits 7 days (aws:approve timeoutSeconds: 604800); the
# stack's ReminderBeforeSeconds is an hour.
APPROVAL_TIMEOUT = 604800
REMINDER = ":alarm_clock: Reminder"


def reconcile_now(sandbox: SandboxClient) -> dict[str, int]:
    reply = requests.post(f"{sandbox.aws_url}/_sandbox/reconcile", timeout=120)
    assert reply.status_code == 200, reply.text
    sandbox.settle()
    return dict(reply.json()["counts"])


def test_an_hour_before_the_timeout_a_pass_reminds_in_the_cards_thread(
    sandbox: SandboxClient,
) -> None:
    message = "Rotate the payments database password"
    sandbox.start_approval(message)
    sandbox.card("approvals-level1", about=message)

    # Days before the timeout, a pass has nothing to remind.
    early = reconcile_now(sandbox)
    assert early["reminded"] == 0 and early["failed_reconcilers"] == 0
    assert not [t for t in sandbox.thread("approvals-level1", about=message) if REMINDER in t]

    # Half an hour before it: the pass follows the sandbox's clock, and reminds.
    moved = requests.post(
        f"{sandbox.aws_url}/_sandbox/clock/advance",
        json={"seconds": APPROVAL_TIMEOUT - 1800},
        timeout=15,
    )
    assert moved.status_code == 200, moved.text
    due = reconcile_now(sandbox)

    assert due["reminded"] == 1, due
    reminders = [t for t in sandbox.thread("approvals-level1", about=message) if REMINDER in t]
    assert len(reminders) == 1, sandbox.thread("approvals-level1", about=message)
    assert "0 of 1 approvals so far" in reminders[0]

    # The operator's CLI line runs a pass too: the reminder is sent once, not again.
    again = subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
        [str(SIGNOFF), "--sandbox", "--endpoint-url", sandbox.aws_url, "reconcile"],
        capture_output=True,
        text=True,
        timeout=120,
        env=bare_environment(),
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert "reminded=0" in again.stdout.split()
    assert "failed_reconcilers=0" in again.stdout.split()
    sandbox.settle()
    assert len([t for t in sandbox.thread("approvals-level1", about=message) if REMINDER in t]) == 1
