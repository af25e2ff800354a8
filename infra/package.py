"""`make package`: build/signoff-lambda.zip, the one artifact every Signoff function runs.

Dependencies are the versions in requirements.lock (hashes checked), as wheels for the Lambda
runtime and architecture straight from the package registry (pip's --platform/--python-version/
--only-binary), so no Docker and no compiler: what runs on Lambda is what the tests ran against,
built by the registry for manylinux. Signoff's own packages (bot/, handlers/) are copied as
source; the AWS models trimmed to Signoff's calls are written into aws_models/
(infra/aws_models.py; the template's AWS_DATA_PATH names it). The zip is deterministic (sorted
entries, fixed timestamps), so an unchanged build uploads nothing new.

Bytecode: Lambda's /var/task is read-only, so Python cannot cache what it compiles and a package
without .pyc files compiles every module it imports (botocore, slack_sdk, bot/...) at every cold
start. When an interpreter of the runtime's version can be found and runs (`python3.12` on PATH,
else one pyenv or uv installed: a pyenv shim on PATH for a version that is installed but not
active exits 127), everything is compiled ahead (unchecked-hash .pyc, the paths Lambda will see)
and shipped; otherwise the build says so and ships source only.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
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
LOCK = ROOT / "requirements.lock"
# Where the artifact carries the trimmed AWS models (the template's AWS_DATA_PATH: /var/task/…).
MODELS_DIR = "aws_models"
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


def install(lock: Path, target: Path, architecture: str, python_version: str) -> None:
    """pip-install the locked versions, as registry wheels built for Lambda's platform, into
    `target`; pip refuses any file whose hash is not in the lock."""
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
        "--no-deps",  # the lock names every package
        "--require-hashes",
        "--requirement",
        str(lock),
    ]
    subprocess.run(command, check=True)  # noqa: S603 (our own interpreter, fixed arguments)


def copy_sources(target: Path, root: Path = ROOT) -> None:
    """Copy Signoff's packages (their Python files) into `target`."""
    for package in SOURCES:
        for source in sorted((root / package).rglob("*.py")):
            if _CACHE in source.relative_to(root).parts:
                continue
            destination = target / source.relative_to(root)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


def runs(interpreter: str, python_version: str) -> bool:
    """Whether `interpreter` starts and is Python `python_version` (a pyenv shim for a version
    that is installed but not active is on PATH, yet exits 127)."""
    try:
        done = subprocess.run(  # noqa: S603 (a path this module found, fixed arguments)
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            env=_clean_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == python_version


def candidates(python_version: str) -> list[str]:
    """Interpreters that may be Python `python_version`, most likely first: the one on PATH,
    then those pyenv and uv install (each version in a folder of its own)."""
    found = [shutil.which(f"python{python_version}") or ""]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    uv = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or Path.home() / ".local/share/uv/python")
    found += sorted(glob.glob(str(pyenv / "versions" / f"{python_version}*" / "bin" / "python")))
    found += sorted(glob.glob(str(uv / f"cpython-{python_version}*" / "bin" / "python3")))
    return [c for c in dict.fromkeys(found) if c]


def find_interpreter(python_version: str) -> str | None:
    """The first of `candidates` that runs and is the version asked for."""
    for interpreter in candidates(python_version):
        if runs(interpreter, python_version):
            return interpreter
    return None


def _clean_env() -> dict[str, str]:
    # Only the interpreter's own environment: a venv's variables must not leak into it.
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}


def compile_bytecode(stage: Path, python_version: str, interpreter: str | None) -> bool:
    """Compile every module in `stage` with `interpreter` (the runtime's version); False if
    there is none."""
    if interpreter is None:
        print(
            f"no Python {python_version} that runs (on PATH, under pyenv or uv): shipping source "
            "only (each cold start will compile what it imports)",
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
    subprocess.run(command, check=True, env=_clean_env())  # noqa: S603 (fixed arguments)
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


def write_models(stage: Path) -> None:
    """The AWS models trimmed to Signoff's calls, into the artifact's aws_models/."""
    script = Path(__file__).with_name("aws_models.py")
    spec = importlib.util.spec_from_file_location("aws_models", script)
    assert spec is not None
    assert spec.loader is not None
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    models.bundle(stage / MODELS_DIR)


def build(
    architecture: str, python_version: str, artifact: Path, lock: Path = LOCK
) -> tuple[int, int]:
    """Stage dependencies and sources, zip them; return (zipped, unzipped) sizes in bytes."""
    stage = artifact.parent / "lambda"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    install(lock, stage, architecture, python_version)
    copy_sources(stage)
    write_models(stage)
    interpreter = find_interpreter(python_version)
    if interpreter is not None:
        print(f"compiling bytecode with {interpreter}", file=sys.stderr)
    compile_bytecode(stage, python_version, interpreter)
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
