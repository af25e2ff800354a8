"""Upstream samples (tests/fixtures/upstream/), read as their authors wrote them."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

UPSTREAM = Path(__file__).resolve().parent.parent / "fixtures" / "upstream"


def sample(name: str) -> Any:
    """A sample file: JSON, or a Python literal (`.pylit`) copied from an SDK's tests."""
    text = (UPSTREAM / name).read_text()
    return ast.literal_eval(text) if name.endswith(".pylit") else json.loads(text)
