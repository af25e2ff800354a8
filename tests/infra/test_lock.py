"""The requirements locks: compiled from pyproject.toml as it is, and noticed when they are not."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest

from tests.infra.conftest import load_script


@pytest.fixture(scope="module")
def lock() -> ModuleType:
    return load_script("lock")


def test_the_committed_locks_match_pyproject(lock: ModuleType) -> None:
    assert lock.stale() == [], "run `make lock`"


def test_a_changed_dependency_makes_both_locks_stale(lock: ModuleType, tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    shutil.copyfile(lock.PYPROJECT, pyproject)
    locks = (lock.RUNTIME, lock.DEV)
    assert lock.stale(pyproject, locks) == []

    text = pyproject.read_text()
    pyproject.write_text(text.replace('"boto3>=1.40"', '"boto3>=1.41"', 1))

    assert lock.stale(pyproject, locks) == list(locks)


def test_a_change_outside_the_dependencies_leaves_the_locks_current(
    lock: ModuleType, tmp_path: Path
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    text = lock.PYPROJECT.read_text()
    pyproject.write_text(text.replace("line-length = 100", "line-length = 99", 1))

    assert lock.stale(pyproject, (lock.RUNTIME, lock.DEV)) == []


def test_every_runtime_pin_is_the_same_in_the_dev_lock(lock: ModuleType) -> None:
    def pins(path: Path) -> dict[str, str]:
        lines = (line.split(" ")[0] for line in path.read_text().splitlines() if "==" in line)
        return dict(line.split("==", 1) for line in lines if not line.startswith("#"))

    runtime, dev = pins(lock.RUNTIME), pins(lock.DEV)

    assert runtime, "requirements.lock pins the runtime dependencies"
    assert {name: dev.get(name) for name in runtime} == runtime, "what is tested is what ships"


def test_the_check_exits_1_and_says_what_to_run(
    lock: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(lock, "RUNTIME", tmp_path / "requirements.lock")
    (tmp_path / "requirements.lock").write_text("# pyproject-dependencies-sha256: 00\n")

    assert lock.main(["--check"]) == 1
    assert "requirements.lock out of date with pyproject.toml: run `make lock`" in (
        capsys.readouterr().err
    )
