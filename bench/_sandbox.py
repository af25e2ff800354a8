"""What the benchmarks share: a `signoff sandbox` in its own process, and reading percentiles.

The sandbox runs as `make sandbox` runs it (infra/template.yaml deployed into the local AWS, the
Slack emulator, the bot behind its Function URL), but in a child process on free ports, so the
load a benchmark generates does not share an interpreter (and its GIL) with the bot it measures.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
FAKE_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


# Which part of the machine a process is, by its command line (Linux /proc).
PROCESS_KINDS = (
    ("lambda_runtime", "functions"),
    ("sandbox.slack", "Slack emulator"),
    ("signoff sandbox", "local AWS"),
)


def reference_loop_ms() -> float:
    """CPU time this process takes for a fixed pure-Python loop: the machine's speed right now.

    On a shared VM the same code's CPU a click moved from 21 to 32 ms within an hour with no
    steal at all; this figure moves with it, so two runs can be told apart by machine or code.
    """
    started = time.process_time()
    total = 0
    for n in range(3_000_000):
        total += n * n
    return (time.process_time() - started) * 1000


class CpuMeter:
    """CPU seconds each part of the machine used between `start()` and `stop()` (Linux only).

    Absolute figures move with the machine: on a shared VM the same code took 25 and 35 ms of
    CPU a click within the same hour. The split, and the hypervisor's `steal`, tell a slowed machine
    from slower code. Elsewhere (no /proc) `stop()` returns nothing and the bench goes on.
    """

    def __init__(self) -> None:
        self._before: dict[str, tuple[str, float]] = {}
        self._stat_before: list[int] = []
        self._started = 0.0

    @staticmethod
    def available() -> bool:
        return Path("/proc/stat").exists()

    def start(self) -> None:
        if self.available():
            self._before, self._stat_before = _processes(), _machine()
            self._started = time.perf_counter()

    def stop(self) -> tuple[dict[str, float], float, float] | None:
        """({kind: CPU seconds}, steal seconds, wall seconds) since `start()`; None off Linux."""
        if not self._stat_before:
            return None
        used: dict[str, float] = {}
        for pid, (kind, seconds) in _processes().items():
            earlier = self._before.get(pid)
            used[kind] = used.get(kind, 0.0) + seconds - (earlier[1] if earlier else 0.0)
        machine = _machine()
        steal = (machine[7] - self._stat_before[7]) / os.sysconf("SC_CLK_TCK")
        return used, steal, time.perf_counter() - self._started


def _processes() -> dict[str, tuple[str, float]]:
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        if pid == str(os.getpid()):
            kind = "benchmark"
        else:
            kind = next((k for marker, k in PROCESS_KINDS if marker in command), "")
        if kind:
            found[pid] = (kind, (int(fields[11]) + int(fields[12])) / tick)
    return found


def _machine() -> list[int]:
    return [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


@dataclass
class RunningSandbox:
    """URLs of a running sandbox and the template's stack outputs; `stop()` if we started it."""

    aws_url: str
    slack_url: str
    process: subprocess.Popen[bytes] | None = None
    outputs: dict[str, str] = field(default_factory=dict)

    def aws(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.aws_url, region_name=REGION, **FAKE_KEYS)  # type: ignore[call-overload]

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{self.slack_url}/_emulator/{path}", timeout=60, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def settle(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for _ in range(2):  # work one round starts is finished by the next
            while True:
                reply = requests.post(
                    f"{self.aws_url}/_sandbox/settle", json={"timeout": 10}, timeout=15
                )
                if reply.status_code == 200:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the sandbox is still busy: {reply.text}")

    def idle(self) -> bool:
        """True when no engine step or asynchronous invocation is running right now."""
        reply = requests.post(f"{self.aws_url}/_sandbox/settle", json={"timeout": 0.2}, timeout=5)
        return reply.status_code == 200

    def environments(self) -> dict[str, int] | None:
        """Execution environments started and warm (None: the functions run in-process)."""
        reply = requests.get(f"{self.aws_url}/_sandbox/lambda", timeout=5)
        reply.raise_for_status()
        stats = reply.json()["environments"]
        return dict(stats) if stats else None

    def role_arn(self, logical_name: str) -> str:
        return next(a for a in self.outputs["ApproverRoleArns"].split(",") if logical_name in a)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_sandbox(log_path: Path | None = None) -> RunningSandbox:
    """`signoff sandbox` on free loopback ports in a child process; returns when it is up."""
    aws_port, slack_port, bot_port = free_port(), free_port(), free_port()
    command = [
        str(Path(sys.executable).parent / "signoff"),
        "sandbox",
        "--aws-port",
        str(aws_port),
        "--slack-port",
        str(slack_port),
        "--bot-port",
        str(bot_port),
    ]
    log = open(log_path or os.devnull, "wb")  # noqa: SIM115 - the child owns it until stop()
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    running = RunningSandbox(
        aws_url=f"http://127.0.0.1:{aws_port}",
        slack_url=f"http://127.0.0.1:{slack_port}",
        process=process,
    )
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"signoff sandbox exited with {process.returncode}; see {log.name}")
        try:
            if running.control("GET", "config").get("bot_url"):
                break  # the Function URL is configured last: everything is up
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            running.stop()
            raise TimeoutError("signoff sandbox did not come up within 120 s")
        time.sleep(0.25)
    return attach(running)


def attach(running: RunningSandbox) -> RunningSandbox:
    """Read the stack outputs of a sandbox (started here or by `make sandbox`)."""
    stack = running.aws("cloudformation").describe_stacks(StackName="signoff")["Stacks"][0]
    running.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    return running


def sandbox_from_args(aws_url: str | None, slack_url: str | None) -> RunningSandbox:
    if aws_url and slack_url:
        return attach(RunningSandbox(aws_url=aws_url.rstrip("/"), slack_url=slack_url.rstrip("/")))
    return start_sandbox()
