"""How the sandbox starts its child processes (the Slack emulator, execution environments)."""

from __future__ import annotations

import signal


def quiet_child() -> None:
    """`preexec_fn` for a child: Ctrl-C is for the sandbox, which then stops its children in
    order (a lazy listener still running needs Slack up while the sandbox drains). The ignored
    SIGINT survives exec, and Python leaves an ignored SIGINT alone at start-up. A child whose
    sandbox dies without stopping it sees its stdin close, and ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
