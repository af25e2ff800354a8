"""A local AWS: moto plus an SSM Automation engine, in-process Lambdas and a test clock.

Public API:
    install()                 apply every moto patch (idempotent); call before using moto
    settle(timeout=10.0)      block until the engine and async Lambda invocations are idle
    clock                     engine time: clock.now(), clock.advance(seconds)
    lambdas                   lambdas.register(name, handler): run a function in-process
    reset()                   back to real time and an empty Lambda registry (between tests)
    sandbox.aws.server        SandboxServer / serve(): moto server mode with all of the above
"""

from __future__ import annotations

import time

from sandbox.aws import lambdas
from sandbox.aws.activity import activity
from sandbox.aws.clock import Clock, clock
from sandbox.aws.engine import engine
from sandbox.aws.patches import install

__all__ = ["Clock", "clock", "install", "lambdas", "reset", "settle"]

# How long the sandbox must stay idle before settle() believes it: work may arrive from threads
# it does not own (a Step Functions execution, an HTTP request) right after a task ends.
_QUIET_PERIOD = 0.005


def settle(timeout: float = 10.0) -> None:
    """Wait until the SSM engine and asynchronous Lambda invocations have nothing left to do.

    Due timeouts and sleeps are checked first, so real time that passed also counts. Raises
    TimeoutError when work is still running after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    engine.check_timers()
    while True:
        if not activity.wait_idle(max(0.0, deadline - time.monotonic())):
            raise TimeoutError(
                f"the sandbox is still busy after {timeout} s ({activity.busy} task(s) running)"
            )
        time.sleep(_QUIET_PERIOD)
        if activity.busy == 0:
            return


def reset() -> None:
    """Real time again and no registered Lambda handlers; moto's own reset clears the rest."""
    clock.reset()
    lambdas.registry.clear()
