"""`make lock`: pin every dependency, with hashes, from pyproject.toml; `--check`: still current?

Two locks, compiled by uv from pyproject.toml:
- requirements.lock: the runtime dependencies, resolved for the Lambda runtime (Python 3.12,
  manylinux x86_64). `make package` ships exactly these.
- requirements-dev.lock: the same versions (the runtime lock is its constraint) plus the dev
  tools, resolved for this project's own Python. `make install` installs it; the tests run it.

Each lock's first line records a hash of pyproject.toml's dependency lists. `--check` (run by
`make test`) compares it with pyproject.toml as it is now: offline and instant, it fails when a
dependency was added, removed or re-bounded without `make lock`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
RUNTIME = ROOT / "requirements.lock"
DEV = ROOT / "requirements-dev.lock"
# The Lambda runtime (infra/package.py's PYTHON_VERSION and platform; tests/infra checks them).
LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = "x86_64-manylinux2014"
DEV_PYTHON = "3.11"
HEADER = "# pyproject-dependencies-sha256: "


def dependencies_digest(pyproject: Path = PYPROJECT) -> str:
    """A hash of what pyproject.toml asks for: the runtime and optional dependency lists."""
    with open(pyproject, "rb") as handle:
        project = tomllib.load(handle)["project"]
    asked = {
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "requires-python": project.get("requires-python", ""),
    }
    return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


def recorded_digest(lock: Path) -> str | None:
    """The digest a lock was compiled from (its first line), or None."""
    if not lock.exists():
        return None
    first = lock.read_text().partition("\n")[0]
    return first.removeprefix(HEADER) if first.startswith(HEADER) else None


def stale(pyproject: Path | None = None, locks: tuple[Path, ...] | None = None) -> list[Path]:
    """The locks (both, by default) not compiled from pyproject.toml as it is now."""
    digest = dependencies_digest(pyproject or PYPROJECT)
    return [lock for lock in locks or (RUNTIME, DEV) if recorded_digest(lock) != digest]


def compile_locks(uv: str) -> None:
    """Re-resolve both locks with uv (from the package registry) and stamp them."""
    common = [uv, "pip", "compile", str(PYPROJECT), "--generate-hashes", "--quiet"]
    common += ["--no-header", "--no-emit-package", "signoff"]
    runtime = [
        *common,
        "--python-version",
        LAMBDA_PYTHON,
        "--python-platform",
        LAMBDA_PLATFORM,
        "--output-file",
        str(RUNTIME),
    ]
    subprocess.run(runtime, check=True, cwd=ROOT)  # noqa: S603 (fixed arguments)
    dev = [
        *common,
        "--extra",
        "dev",
        "--python-version",
        DEV_PYTHON,
        "--constraint",
        str(RUNTIME),
        "--output-file",
        str(DEV),
    ]
    subprocess.run(dev, check=True, cwd=ROOT)  # noqa: S603 (fixed arguments)
    digest = dependencies_digest()
    for lock, what in ((RUNTIME, "runtime, for the Lambda runtime"), (DEV, "runtime and dev")):
        body = lock.read_text()
        lock.write_text(
            f"{HEADER}{digest}\n# {what}; written by `make lock` (infra/lock.py), do not edit\n"
            + body
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only say whether they are current")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        if not out_of_date:
            print("requirements locks match pyproject.toml")
            return 0
        names = ", ".join(p.name for p in out_of_date)
        print(f"{names} out of date with pyproject.toml: run `make lock`", file=sys.stderr)
        return 1
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        print("uv not found: `make install` puts it in .venv", file=sys.stderr)
        return 1
    compile_locks(uv)
    print(f"wrote {RUNTIME.name} and {DEV.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
