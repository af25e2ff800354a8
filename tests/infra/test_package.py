"""`make package` builds what the template deploys: its runtime, its architecture, its handlers."""

from __future__ import annotations

import marshal
import shutil
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sandbox.template import TEMPLATE_PATH, functions

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
    assert "pydantic" not in names, "its import costs every cold start ~100 ms (bot/payload.py)"


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
    assert "bot/aws_models/ssm/2014-11-06/service-2.json" in names
    assert not [n for n in names if n.startswith("bin/")]
    assert not [n for n in names if n.startswith(("sandbox/", "tests/"))]


def test_bytecode_is_compiled_ahead_for_the_paths_lambda_runs_from(
    package: ModuleType, tmp_path: Path
) -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if shutil.which(f"python{version}") is None:
        pytest.skip(f"no python{version} on PATH")
    stage = tmp_path / "stage"
    (stage / "handlers").mkdir(parents=True)
    (stage / "handlers" / "ping.py").write_text("def pong():\n    return 1\n")

    assert package.compile_bytecode(stage, version)

    tag = f"cpython-{version.replace('.', '')}"
    compiled = (stage / "handlers" / "__pycache__" / f"ping.{tag}.pyc").read_bytes()
    flags = int.from_bytes(compiled[4:8], "little")
    assert flags == 0b01, "hash-based and unchecked: Lambda's files are never re-validated"
    code = marshal.loads(compiled[16:])  # noqa: S302 - the file this test just compiled
    assert code.co_filename == "/var/task/handlers/ping.py"


def test_without_the_runtimes_interpreter_the_package_ships_source_and_says_so(
    package: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not package.compile_bytecode(tmp_path, "2.0")
    assert "no python2.0 on PATH: shipping source only" in capsys.readouterr().err
