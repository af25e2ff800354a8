"""`make package` builds what the template deploys: its runtime, its architecture, its handlers."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sandbox.template import TEMPLATE_PATH, functions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def package() -> ModuleType:
    spec = importlib.util.spec_from_file_location("signoff_package", ROOT / "infra" / "package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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

    assert {"slack-bolt", "slack-sdk", "boto3", "aws-lambda-powertools", "pydantic"} <= names


def test_the_zip_holds_every_handler_and_no_bytecode_and_is_reproducible(
    template: dict[str, Any], package: ModuleType, tmp_path: Path
) -> None:
    stage = tmp_path / "stage"
    package.copy_sources(stage)
    (stage / "handlers" / "__pycache__").mkdir()
    (stage / "handlers" / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"\0")
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
    assert not [n for n in names if n.endswith(".pyc") or n.startswith("bin/")]
    assert not [n for n in names if n.startswith(("sandbox/", "tests/"))]
