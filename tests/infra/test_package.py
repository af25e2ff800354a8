"""`make package` builds what the template deploys: its runtime, its architecture, its handlers."""

from __future__ import annotations

import marshal
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sandbox.template import TEMPLATE_PATH, functions
from tests.infra.conftest import load_script

ROOT = Path(__file__).resolve().parents[2]


def test_the_artifact_is_built_for_the_templates_runtime(
    template: dict[str, Any], package: ModuleType
) -> None:
    defaults = template["Globals"]["Function"]

    assert defaults["Runtime"] == f"python{package.PYTHON_VERSION}"
    assert defaults["Architectures"] == [package.ARCHITECTURE]
    assert (TEMPLATE_PATH.parent / defaults["CodeUri"]).resolve() == package.ARTIFACT
    assert package.PLATFORMS[package.ARCHITECTURE].startswith("manylinux")


def test_the_artifact_carries_what_the_handlers_import(package: ModuleType) -> None:
    names = {r.split(">")[0].split("<")[0].split("=")[0].strip() for r in package.requirements()}

    assert {"slack-bolt", "slack-sdk", "boto3", "aws-lambda-powertools", "msgspec"} <= names
    assert "pydantic" not in names, (
        "its import costs every cold start ~100 ms (bot/validation.py uses msgspec)"
    )


def test_the_runtime_lock_is_resolved_for_the_artifacts_runtime(package: ModuleType) -> None:
    lock = load_script("lock")

    assert lock.LAMBDA_PYTHON == package.PYTHON_VERSION
    assert lock.LAMBDA_PLATFORM.split("-")[0] == package.ARCHITECTURE
    assert package.LOCK == lock.RUNTIME
    pinned = [line for line in lock.RUNTIME.read_text().splitlines() if "==" in line]
    assert pinned, "requirements.lock pins every runtime dependency"


def test_the_zip_holds_every_handler_and_only_the_runtimes_bytecode_and_is_reproducible(
    template: dict[str, Any], package: ModuleType, tmp_path: Path
) -> None:
    stage = tmp_path / "stage"
    package.copy_sources(stage)
    (stage / "handlers" / "__pycache__").mkdir()
    (stage / "handlers" / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"\0")
    (stage / "handlers" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (stage / "handlers" / "stray.pyc").write_bytes(b"\0")
    (stage / "bin").mkdir()
    (stage / "bin" / "slack-cli").write_text("#!/somewhere/python\n")

    package.write_zip(stage, tmp_path / "a.zip")
    package.write_zip(stage, tmp_path / "b.zip")

    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    names = set(zipfile.ZipFile(tmp_path / "a.zip").namelist())
    for function in functions(template).values():
        module = function["Handler"].rsplit(".", 1)[0]
        assert f"{module.replace('.', '/')}.py" in names
    assert "bot/config.py" in names and "handlers/__init__.py" in names
    assert [n for n in names if n.endswith(".pyc")] == ["handlers/__pycache__/x.cpython-312.pyc"]
    assert not [n for n in names if n.startswith("bin/")]
    assert not [n for n in names if n.startswith(("sandbox/", "tests/"))]


def test_bytecode_is_compiled_ahead_for_the_paths_lambda_runs_from(
    package: ModuleType, tmp_path: Path
) -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if package.find_interpreter(version) is None:
        pytest.skip(f"no Python {version} that runs")
    stage = tmp_path / "stage"
    (stage / "handlers").mkdir(parents=True)
    (stage / "handlers" / "ping.py").write_text("def pong():\n    return 1\n")

    assert package.compile_bytecode(stage, version, package.find_interpreter(version))

    tag = f"cpython-{version.replace('.', '')}"
    compiled = (stage / "handlers" / "__pycache__" / f"ping.{tag}.pyc").read_bytes()
    flags = int.from_bytes(compiled[4:8], "little")
    assert flags == 0b01, "hash-based and unchecked: Lambda's files are never re-validated"
    code = marshal.loads(compiled[16:])  # noqa: S302 - the file this test just compiled
    assert code.co_filename == "/var/task/handlers/ping.py"


def test_without_the_runtimes_interpreter_the_package_ships_source_and_says_so(
    package: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not package.compile_bytecode(tmp_path, "2.0", package.find_interpreter("2.0"))
    assert "no Python 2.0 that runs (on PATH, under pyenv or uv): shipping source only" in (
        capsys.readouterr().err
    )


def _shim(folder: Path, name: str, script: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with nothing installed: PATH, pyenv's and uv's folders all empty."""
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "uv"))
    return tmp_path


def test_a_pyenv_shim_for_an_inactive_version_is_not_taken_for_an_interpreter(
    package: ModuleType, machine: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What pyenv puts on PATH for a version installed but not selected: it exits 127.
    _shim(
        machine / "path", "python3.12", "echo 'pyenv: python3.12: command not found' >&2; exit 127"
    )

    assert package.find_interpreter("3.12") is None
    assert not package.compile_bytecode(machine, "3.12", None)
    assert "shipping source only" in capsys.readouterr().err


def test_an_installed_pyenv_or_uv_version_is_found_behind_a_broken_shim(
    package: ModuleType, machine: Path
) -> None:
    _shim(machine / "path", "python3.12", "exit 127")
    # Each stands in for an interpreter answering the package's version question.
    pyenv = _shim(machine / "pyenv" / "versions" / "3.12.1" / "bin", "python", "echo 3.12")
    uv = _shim(machine / "uv" / "cpython-3.12.4-linux-x86_64-gnu" / "bin", "python3", "echo 3.12")

    assert package.find_interpreter("3.12") == str(pyenv)
    pyenv.unlink()
    assert package.find_interpreter("3.12") == str(uv)
    _shim(machine / "uv" / "cpython-3.12.4-linux-x86_64-gnu" / "bin", "python3", "echo 3.11")
    assert package.find_interpreter("3.12") is None, "an interpreter of another version is not it"


@pytest.fixture(scope="module")
def artifact(package: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real artifact, as `make package` builds it from requirements.lock (pip's cache makes
    a second build quick; the registry must be reachable)."""
    out = tmp_path_factory.mktemp("artifact") / "signoff-lambda.zip"
    try:
        package.build(package.ARCHITECTURE, package.PYTHON_VERSION, out)
    except subprocess.CalledProcessError as failed:
        pytest.skip(f"the package registry is not reachable: {failed}")
    unpacked = out.parent / "task"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(unpacked)
    return unpacked


def test_the_artifact_holds_the_locked_versions_and_the_trimmed_models(
    package: ModuleType, artifact: Path
) -> None:
    lock = load_script("lock")
    pinned = dict(
        line.split(" ")[0].split("==")
        for line in lock.RUNTIME.read_text().splitlines()
        if "==" in line
    )
    # A wheel's metadata folder: <name>-<version>.dist-info (the name with underscores).
    folders = (p.name.removesuffix(".dist-info").split("-") for p in artifact.glob("*.dist-info"))
    shipped = {name.lower().replace("_", "-"): version for name, version in folders}

    assert shipped == pinned
    assert (artifact / package.MODELS_DIR / "ssm" / "2014-11-06" / "service-2.json").is_file()
    assert (artifact / package.MODELS_DIR / "endpoints.json").is_file()


# Every handler imported from the unpacked artifact, and a client made for every service from
# its trimmed models (through AWS_DATA_PATH, as the template sets it), with no network.
IMPORT_ALL = """
import importlib, sys
from pathlib import Path
assert sys.path[0] == "" and Path.cwd() == Path(sys.argv[1])
for handler in sys.argv[2].split(","):
    module = importlib.import_module(handler)
    assert callable(module.lambda_handler), handler
    assert Path(module.__file__).is_relative_to(sys.argv[1]), module.__file__
from bot.gateways.session import LambdaSession
session = LambdaSession("eu-west-1")
for service in ("dynamodb", "iam", "lambda", "secretsmanager", "ssm", "stepfunctions", "sts"):
    client = session.client(service)
    assert len(client.meta.service_model.operation_names) < 30, service
print("ok")
"""


def test_every_handler_imports_from_the_unpacked_artifact_on_the_runtimes_python(
    template: dict[str, Any], package: ModuleType, artifact: Path
) -> None:
    interpreter = package.find_interpreter(package.PYTHON_VERSION)
    if interpreter is None:
        pytest.skip(f"no Python {package.PYTHON_VERSION} that runs on this machine")
    handlers = ",".join(f["Handler"].rsplit(".", 1)[0] for f in functions(template).values())
    # Lambda's environment: the task root and nothing of this machine's site-packages.
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_DATA_PATH": str(artifact / package.MODELS_DIR),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "HTTPS_PROXY": "http://127.0.0.1:9",  # no network: a call would fail, not reach AWS
    }

    done = subprocess.run(  # noqa: S603 - an interpreter the package found, fixed code
        [interpreter, "-s", "-c", IMPORT_ALL, str(artifact), handlers],
        capture_output=True,
        text=True,
        cwd=artifact,
        env=env,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
