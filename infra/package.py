"""`make package`: build/signoff-lambda.zip, the one artifact every Signoff function runs.

Dependencies come as wheels for the Lambda runtime and architecture straight from the package
registry (pip's --platform/--python-version/--only-binary), so no Docker and no compiler: what
runs on Lambda is what the registry built for manylinux. Signoff's own packages (bot/, handlers/)
are copied as source. The zip is deterministic (sorted entries, fixed timestamps), so an unchanged
build uploads nothing new.

Bytecode: Lambda's /var/task is read-only, so Python cannot cache what it compiles and a package
without .pyc files compiles every module it imports (botocore, slack_sdk, bot/...) at every cold
start. When an interpreter of the runtime's version is on PATH (`python3.12`), everything is
compiled ahead (unchecked-hash .pyc, the paths Lambda will see) and shipped; otherwise the build
says so and ships source only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
ARTIFACT = BUILD / "signoff-lambda.zip"
# Must match the template's Globals.Function Runtime and Architectures (tests/infra checks it).
PYTHON_VERSION = "3.12"
ARCHITECTURE = "x86_64"
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
SOURCES = ("bot", "handlers")
# Lambda's limits for a zip uploaded through S3: 250 MB unzipped; 50 MB for a direct upload.
UNZIPPED_LIMIT = 250 * 1024 * 1024
_EPOCH = (1980, 1, 1, 0, 0, 0)
_CACHE = "__pycache__"
# pip's console scripts: their #! names this machine's interpreter, useless on Lambda.
_SCRIPTS = "bin"
# Where Lambda unpacks the zip: the paths compiled into the bytecode (tracebacks show them).
TASK_ROOT = "/var/task"


def requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The runtime dependencies Signoff declares (not the dev ones)."""
    with open(pyproject, "rb") as handle:
        project = tomllib.load(handle)["project"]
    return list(project.get("dependencies", []))


def install(wanted: Sequence[str], target: Path, architecture: str, python_version: str) -> None:
    """pip-install registry wheels built for Lambda's platform into `target`."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        # The target is its own world: conflicts with this venv's packages do not apply to it.
        "--no-warn-conflicts",
        "--no-compile",
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--platform",
        PLATFORMS[architecture],
        "--only-binary=:all:",
        *wanted,
    ]
    subprocess.run(command, check=True)  # noqa: S603 (our own interpreter, fixed arguments)


def copy_sources(target: Path, root: Path = ROOT) -> None:
    """Copy Signoff's packages (Python files and the trimmed AWS models) into `target`."""
    for package in SOURCES:
        shipped = [*(root / package).rglob("*.py"), *(root / package).rglob("aws_models/**/*.json")]
        for source in sorted(shipped):
            if _CACHE in source.relative_to(root).parts:
                continue
            destination = target / source.relative_to(root)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


def compile_bytecode(stage: Path, python_version: str) -> bool:
    """Compile every module in `stage` with the runtime's interpreter; False if there is none."""
    interpreter = shutil.which(f"python{python_version}")
    if interpreter is None:
        print(
            f"no python{python_version} on PATH: shipping source only (each cold start will "
            "compile what it imports)",
            file=sys.stderr,
        )
        return False
    command = [
        interpreter,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(stage),
        "-p",
        TASK_ROOT,
        str(stage),
    ]
    # Only the compiler's own environment: a venv's variables must not leak into it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    subprocess.run(command, check=True, env=env)  # noqa: S603 (fixed arguments)
    return True


def files(directory: Path, python_version: str = PYTHON_VERSION) -> Iterator[Path]:
    """Every file to ship, in a stable order: no console scripts, and only bytecode the runtime
    will read (`cpython-312` files in `__pycache__`), none left over from another interpreter."""
    tag = f".cpython-{python_version.replace('.', '')}.pyc"
    for path in sorted(directory.rglob("*")):
        parts = path.relative_to(directory).parts
        if parts[0] == _SCRIPTS or not path.is_file():
            continue
        bytecode = _CACHE in parts or path.suffix == ".pyc"
        if not bytecode or (parts[-2] == _CACHE and path.name.endswith(tag)):
            yield path


def write_zip(directory: Path, artifact: Path, python_version: str = PYTHON_VERSION) -> int:
    """Zip `directory` deterministically into `artifact`; return the unzipped size in bytes."""
    unzipped = 0
    artifact.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(artifact, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files(directory, python_version):
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            unzipped += len(data)
            archive.writestr(info, data, compresslevel=9)
    return unzipped


def build(architecture: str, python_version: str, artifact: Path) -> tuple[int, int]:
    """Stage dependencies and sources, zip them; return (zipped, unzipped) sizes in bytes."""
    stage = BUILD / "lambda"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    install(requirements(), stage, architecture, python_version)
    copy_sources(stage)
    compile_bytecode(stage, python_version)
    unzipped = write_zip(stage, artifact, python_version)
    return artifact.stat().st_size, unzipped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--architecture", choices=sorted(PLATFORMS), default=ARCHITECTURE)
    parser.add_argument("--python-version", default=PYTHON_VERSION)
    parser.add_argument("--output", type=Path, default=ARTIFACT)
    args = parser.parse_args(argv)
    zipped, unzipped = build(args.architecture, args.python_version, args.output)
    print(
        f"{args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}: "
        f"{zipped / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped "
        f"(python{args.python_version}, {args.architecture})"
    )
    if unzipped > UNZIPPED_LIMIT:
        print("over Lambda's 250 MB unzipped limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
