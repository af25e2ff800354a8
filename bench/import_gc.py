"""What pausing the garbage collector during a handler's imports saves (handlers/__init__.py).

For each module in handlers/, fresh processes import it (nothing else) as Lambda does on a cold
start, half of them as the handler is written (collector paused while it imports, what it made
frozen, collection resumed), half with `gc.disable`/`gc.freeze` made no-ops so the collector runs
as Python's default has it. Printed per handler: the collections during the import and the
import's CPU time, medians of the runs, and whether the paused import left the collector on and
more than ten thousand objects frozen (what the handler promises; a failure exits 1).

This machine's CPU, not Lambda's: for the figure at a Lambda MemorySize, see bench/lambda_cpu.py.

    .venv/bin/python bench/import_gc.py            # 7 runs of each, each way
    .venv/bin/python bench/import_gc.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HANDLERS = sorted(p.stem for p in (REPO / "handlers").glob("*.py") if p.stem != "__init__")

# In a fresh interpreter (an already imported module would import nothing): collections counted
# from the moment the handler's own module starts, the import's CPU time, the collector's state.
PROBE = """
import gc, json, sys, time
import handlers
if sys.argv[2] == "default":
    gc.disable = lambda: None
    gc.freeze = lambda: None
collections = []
gc.callbacks.append(lambda phase, info: collections.append(info) if phase == "start" else None)
started = time.process_time()
__import__(sys.argv[1])
cpu = time.process_time() - started
print(json.dumps({"collections": len(collections), "cpu_ms": cpu * 1000,
                  "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def import_once(module: str, way: str) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", PROBE, module, way],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    failed = False
    print(f"{'handler':<20} {'collections':>13} {'import CPU ms':>20}  promise")
    print(f"{'':<20} {'paused/default':>13} {'paused / default':>20}")
    for handler in HANDLERS:
        module = f"handlers.{handler}"
        runs: dict[str, list[dict[str, Any]]] = {"paused": [], "default": []}
        for _ in range(args.runs):  # alternated, so a slow stretch touches both ways
            for way, results in runs.items():
                results.append(import_once(module, way))

        def median(way: str, key: str, runs: dict[str, list[dict[str, Any]]] = runs) -> float:
            return float(statistics.median(r[key] for r in runs[way]))

        kept = all(r["collections"] == 0 and r["enabled"] for r in runs["paused"]) and all(
            r["frozen"] > 10_000 for r in runs["paused"]
        )
        failed |= not kept
        print(
            f"{handler:<20} {median('paused', 'collections'):>6.0f}/"
            f"{median('default', 'collections'):<6.0f} "
            f"{median('paused', 'cpu_ms'):>9.1f} / {median('default', 'cpu_ms'):<8.1f}  "
            f"{'kept' if kept else 'BROKEN'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
