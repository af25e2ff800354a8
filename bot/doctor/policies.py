"""Policy documents as IAM and Lambda return them, and IAM's wildcards for the one policy doctor
reads itself: the notice function's resource policy (IAM's simulator judges roles, not Lambda's)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote


def document(raw: Any) -> dict[str, Any]:
    # boto3 decodes IAM's URL-encoded JSON for some calls and not others; Lambda's is a string.
    if isinstance(raw, str):
        text = unquote(raw) if raw.startswith("%7B") else raw
        parsed: dict[str, Any] = json.loads(text)
        return parsed
    return dict(raw)


def statements(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    yield from listed(statements)


def matches(pattern: str, value: str) -> bool:
    # IAM wildcards: * and ?; actions compare case-insensitively.
    return fnmatchcase(value.lower(), str(pattern).lower())


def listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
