"""Fixtures for the template checks: the template, read once, the way CloudFormation reads it;
the build scripts in infra/, loaded as modules."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sandbox.template import load_template

INFRA = Path(__file__).resolve().parents[2] / "infra"


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


def load_script(name: str) -> ModuleType:
    """infra/<name>.py as a module (infra/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"infra_{name}", INFRA / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def package() -> ModuleType:
    return load_script("package")


@pytest.fixture(scope="module")
def models() -> ModuleType:
    return load_script("aws_models")
