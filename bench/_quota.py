"""The CPU and memory a Lambda function of a given MemorySize gets, as a Linux cgroup.

Lambda allocates CPU in proportion to memory: at 1,769 MB a function has the equivalent of one
vCPU (AWS Lambda developer guide, "Configure Lambda function memory"). A cgroup gives a process
tree MemorySize/1769 of one core (CFS quota over a 100 ms period) and MemorySize of memory:
cgroup v2 `cpu.max` and `memory.max`, or v1 `cpu.cfs_quota_us` and `memory.limit_in_bytes`.
Making cgroups needs root (or a delegated cgroup); `unavailable()` says why when it cannot.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
ONE_VCPU_MB = 1769
PERIOD_US = 100_000


def cgroup_version() -> int | None:
    if (ROOT / "cgroup.controllers").exists():
        return 2
    if (ROOT / "cpu" / "cpu.cfs_period_us").exists() and (ROOT / "memory").is_dir():
        return 1
    return None


def unavailable() -> str | None:
    """Why quotas cannot be made here, or None when they can."""
    version = cgroup_version()
    if version is None:
        return "no cgroup v1 cpu/memory or v2 hierarchy at /sys/fs/cgroup"
    if version == 2:
        controllers = (ROOT / "cgroup.controllers").read_text().split()
        if not {"cpu", "memory"} <= set(controllers):
            return f"cgroup v2 without the cpu and memory controllers ({controllers})"
        parent = ROOT
    else:
        parent = ROOT / "cpu"
    if not os.access(parent, os.W_OK):
        return f"cannot make cgroups under {parent} (it needs root, or a delegated cgroup)"
    return None


class Quota:
    """One cgroup (v1: one per controller) limited as a function of `memory_mb`."""

    def __init__(self, memory_mb: int, tag: str) -> None:
        self.memory_mb = memory_mb
        self.quota_us = PERIOD_US * memory_mb // ONE_VCPU_MB
        self.share = memory_mb / ONE_VCPU_MB  # of one core
        self.version = cgroup_version()
        name = f"signoff-bench-{os.getpid()}-{tag}-{memory_mb}"
        if self.version == 2:
            # Children of the root need the controllers enabled for them first.
            (ROOT / "cgroup.subtree_control").write_text("+cpu +memory")
            self.dirs = [ROOT / name]
        else:
            self.dirs = [ROOT / "cpu" / name, ROOT / "memory" / name]
        for directory in self.dirs:
            directory.mkdir(exist_ok=True)
        limit = str(memory_mb * 1024 * 1024)
        if self.version == 2:
            (self.dirs[0] / "cpu.max").write_text(f"{self.quota_us} {PERIOD_US}")
            (self.dirs[0] / "memory.max").write_text(limit)
        else:
            (self.dirs[0] / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.dirs[0] / "cpu.cfs_quota_us").write_text(str(self.quota_us))
            (self.dirs[1] / "memory.limit_in_bytes").write_text(limit)

    def wrap(self, command: list[str]) -> list[str]:
        """`command` started inside the cgroup: a shell joins it, then execs the command, so
        the interpreter's start is limited too and no Python code runs between fork and exec."""
        joins = " && ".join(f"echo $$ > {d / 'cgroup.procs'}" for d in self.dirs)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "sh", *command]

    def remove(self) -> None:
        for directory in self.dirs:
            # A process still in it (a killed bench) keeps it until it is empty.
            with contextlib.suppress(OSError):
                directory.rmdir()
