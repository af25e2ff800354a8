"""Fixtures for the template checks: the template, read once, the way CloudFormation reads it."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.template import load_template


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()
